"""Extract the rewritten response from a rewrite output, tolerating missing markers."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

from langchain_core.prompts import ChatPromptTemplate

RESPONSE_START = "<response>"
RESPONSE_END = "</response>"


class Extracted(NamedTuple):
    """The usable text of one rewrite output and how it was found."""

    text: str
    """The response, trimmed ("" when the output had nothing usable)."""
    had_markers: bool
    """True when both markers were present and the text came from between them."""
    echoed_prompt: bool = False
    """True when the output repeated a line of the prompt and was cut before it."""


# Shorter template fragments ("and", ".") are too common in answers to tell an echo by.
_MIN_SCAFFOLD_LINE = 12
_DECORATION = " \t*#>_"


def scaffold_lines(prompt: ChatPromptTemplate) -> frozenset[str]:
    """The prompt's own fixed lines (its text minus the variables), normalised for matching."""
    lines: set[str] = set()
    for message in prompt.messages:
        template = getattr(getattr(message, "prompt", None), "template", None)
        if not isinstance(template, str):
            continue
        for fixed in re.split(r"\{[^{}]*\}", template):
            lines.update(_normalise(line) for line in fixed.splitlines())
    return frozenset(line for line in lines if len(line) >= _MIN_SCAFFOLD_LINE)


def _normalise(line: str) -> str:
    return line.strip(_DECORATION).casefold()


def cut_prompt_echo(text: str, scaffold: Iterable[str]) -> tuple[str, bool]:
    """Cut `text` before the first line that repeats one of the prompt's `scaffold` lines.

    Small models often go on to replay the prompt ("A user asked: ...", "Suggested
    improvements: ...") instead of answering; what follows is not an answer. A lead-in line
    left dangling at the end ("Here is the improved answer:") goes too.

    Returns:
        The kept text, trimmed, and whether anything was cut.
    """
    scaffold = frozenset(scaffold)
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if _normalise(line) in scaffold:
            kept = "\n".join(lines[:i]).rstrip()
            if kept.endswith(":"):
                kept = kept.rsplit("\n", 1)[0] if "\n" in kept else ""
            return kept.strip(), True
    return text, False


def extract_response(
    output: str,
    start: str = RESPONSE_START,
    end: str = RESPONSE_END,
    scaffold: Iterable[str] = (),
) -> Extracted:
    """Take the text between the last complete pair of markers.

    Without a complete pair the whole output is used, trimmed, minus a lone start marker and
    anything before it (what is left when generation stops at the token limit). Either way the
    text is cut before any line that repeats a `scaffold` line of the prompt.
    """
    pairs = re.findall(re.escape(start) + r"(.*?)" + re.escape(end), output, flags=re.DOTALL)
    if pairs:
        found = pairs[-1]
    else:
        s = output.rfind(start)
        found = (output[s + len(start) :] if s != -1 else output).replace(end, "")
    text, echoed = cut_prompt_echo(found.strip(), scaffold)
    return Extracted(text, had_markers=bool(pairs), echoed_prompt=echoed)
