"""The chat_models namespace: lazy names, and no heavy import until a backend is used."""

from __future__ import annotations

import subprocess
import sys

from langchain_tpo import chat_models


def test_every_lazy_name_is_exported_and_resolves() -> None:
    assert sorted(chat_models.__all__) == sorted(chat_models._LAZY)
    for name in chat_models.__all__:
        assert getattr(chat_models, name) is not None


def test_resolving_the_names_imports_no_ml_library() -> None:
    code = (
        "import sys\n"
        "from langchain_tpo.chat_models import ChatVLLM, load_default_policy\n"
        "from langchain_tpo.chat_models import ChatTransformers\n"
        "print([m for m in ('torch', 'vllm', 'transformers') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
