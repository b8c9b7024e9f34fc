"""Short, stable hashes a results file records: of each prompt, and of the TPO loop's prompts.

A resumed run must answer the same prompts with the same loop. Rows store `prompt_sha256` (a
different dataset whose ids overlap is then caught), and the header stores `prompts_sha256`, a
fingerprint of the four templates of `TPOPrompts` (a new version of the loop's wording is then
caught too). Only what the templates say is hashed (roles and template text, plus the response
markers the rewrite prompt is given), not library class paths, so upgrading langchain-core
does not change a fingerprint.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

_DIGITS = 16


def text_sha256(text: str) -> str:
    """The first 16 hex digits of the SHA-256 of `text` (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:_DIGITS]


def _template_parts(template: Any) -> Any:
    """What a prompt template says: per message its role and text; `repr` for anything else."""
    messages = getattr(template, "messages", None)
    if messages is None:
        return repr(template)
    parts = []
    for message in messages:
        inner = getattr(message, "prompt", None)
        text = getattr(inner, "template", None)
        if text is None:  # a fixed message, or a placeholder
            text = getattr(message, "content", None) or getattr(message, "variable_name", None)
        parts.append([type(message).__name__, text if isinstance(text, str) else repr(message)])
    partials = getattr(template, "partial_variables", None) or {}
    return {"messages": parts, "partials": {k: repr(v) for k, v in sorted(partials.items())}}


def prompts_fingerprint(prompts: Any = None) -> str:
    """Fingerprint of the TPO loop's prompts (`TPOPrompts()` by default)."""
    from langchain_tpo import prompts as prompts_module
    from langchain_tpo.prompts import TPOPrompts

    prompts = prompts if prompts is not None else TPOPrompts()
    names = sorted(type(prompts).model_fields)
    content = {name: _template_parts(getattr(prompts, name)) for name in names}
    content["markers"] = getattr(prompts_module, "MARKERS", None)
    return text_sha256(json.dumps(content, sort_keys=True, ensure_ascii=False, default=repr))
