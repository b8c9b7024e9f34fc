"""Converting the bundled GGUF for real, into a fresh cache (about half a minute)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from langchain_tpo import bundled
from tests.integration_tests.default_models import require_default_models

pytestmark = [pytest.mark.integration, pytest.mark.requires("transformers")]


def test_fresh_conversion_loads_and_chats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_default_models()
    pytest.importorskip("gguf")
    transformers = pytest.importorskip("transformers")
    monkeypatch.setenv("LANGCHAIN_TPO_CACHE", str(tmp_path))
    path = bundled.default_model_dir()
    assert path.parent == tmp_path / "models"
    marker = json.loads((path / "langchain_tpo.json").read_text())
    assert marker["model"] == "SmolLM2-135M-Instruct"
    assert bundled.default_model_dir() == path  # reused, not converted again

    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is 2+2?"}], tokenize=False, add_generation_prompt=True
    )
    assert prompt.endswith("<|im_start|>assistant\n")
    ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")
    model = transformers.AutoModelForCausalLM.from_pretrained(path)
    out = model.generate(**ids, max_new_tokens=12, do_sample=False)
    reply = tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
    assert "4" in reply
