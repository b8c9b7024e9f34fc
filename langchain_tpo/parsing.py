"""Extract the rewritten response from a rewrite output, tolerating missing markers."""

from __future__ import annotations

import re
from typing import NamedTuple

RESPONSE_START = "<response>"
RESPONSE_END = "</response>"


class Extracted(NamedTuple):
    """The usable text of one rewrite output and how it was found."""

    text: str
    """The response, trimmed ("" when the output had nothing usable)."""
    had_markers: bool
    """True when both markers were present and the text came from between them."""


def extract_response(
    output: str, start: str = RESPONSE_START, end: str = RESPONSE_END
) -> Extracted:
    """Take the text between the last complete pair of markers.

    Without a complete pair the whole output is used, trimmed, minus a lone start marker and
    anything before it (what is left when generation stops at the token limit).
    """
    pairs = re.findall(re.escape(start) + r"(.*?)" + re.escape(end), output, flags=re.DOTALL)
    if pairs:
        return Extracted(pairs[-1].strip(), had_markers=True)
    s = output.rfind(start)
    if s != -1:
        output = output[s + len(start) :]
    return Extracted(output.replace(end, "").strip(), had_markers=False)
