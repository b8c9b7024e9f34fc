"""Extract the rewritten response from a rewrite output.

The rewrite reply is used as the answer, after five cuts, each counted: a marker-style prompt's
`<response>` markers (the text between them is kept; without them the whole reply is used),
anything from a line that repeats a line of the prompt (its fence lines included) or a long
piece of one, any other fence-shaped line (`fencing.without_fence_lines`: copied from an
earlier step's text), a first line that only announces the answer ("Here is the improved
answer:", see `answer_kinds.lead_in_line`), and paragraphs of talk about the answer around an
answer (`answer_kinds.without_scaffold_paragraphs`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

from langchain_core.prompts import ChatPromptTemplate

from langchain_tpo.answer_kinds import lead_in_line, without_scaffold_paragraphs
from langchain_tpo.fencing import without_fence_lines

RESPONSE_START = "<response>"
RESPONSE_END = "</response>"


class Extracted(NamedTuple):
    """The usable text of one rewrite output and how it was found."""

    text: str
    """The response, trimmed ("" when the output had nothing usable)."""
    had_markers: bool
    """True when both markers were present and the text came from between them."""
    echoed_prompt: bool = False
    """True when the output repeated a line of the prompt or a long piece of one (and was cut
    before it), or had a fence line of an earlier prompt (which was removed)."""
    lead_in: bool = False
    """True when a first line announcing the answer was cut."""
    scaffold_paragraphs: int = 0
    """Paragraphs of scaffolding cut from around the answer."""


# Shorter template fragments ("and", ".") are too common in answers to tell an echo by.
_MIN_SCAFFOLD_LINE = 12
_DECORATION = " \t*#>_"
_VARIABLE = re.compile(r"\{[^{}]*\}")
HOLE = "{}"
"""Where a prompt line had a variable, in the lines `scaffold_lines` returns."""


def normalise_line(line: str) -> str:
    """A line as `scaffold_lines` stores it (trimmed of decoration, case-folded)."""
    return line.strip(_DECORATION).casefold()


def scaffold_lines(prompt: ChatPromptTemplate) -> frozenset[str]:
    """The prompt's own lines, normalised, each variable replaced by `{}`.

    Lines with fewer than 12 characters of fixed text are left out: too common to tell an echo.
    """
    lines: set[str] = set()
    for message in prompt.messages:
        template = getattr(getattr(message, "prompt", None), "template", None)
        if not isinstance(template, str):
            continue
        for line in template.splitlines():
            line = normalise_line(_VARIABLE.sub(HOLE, line))
            if len(line.replace(HOLE, "").strip()) >= _MIN_SCAFFOLD_LINE:
                lines.add(line)
    return frozenset(lines)


def _matcher(scaffold: Iterable[str]) -> re.Pattern[str] | None:
    patterns = [".*".join(re.escape(part) for part in line.split(HOLE)) for line in scaffold]
    return re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None


_MIN_FRAGMENT = 40
"""Characters a line must have to count as an echo when it is only part of a prompt line."""


def cut_prompt_echo(text: str, scaffold: Iterable[str]) -> tuple[str, bool]:
    """Cut `text` before the first line that repeats one of the prompt's `scaffold` lines.

    Small models often go on to replay the prompt ("A user asked: ...", "Suggested
    improvements: ..." of the marker prompt) instead of answering; what follows is not an
    answer. A line that is a long verbatim piece of a prompt line ("Write the new reply and
    nothing else, ...") counts too. A lead-in line left dangling at the end ("Here is the
    improved answer:") goes.

    Returns:
        The kept text, trimmed, and whether anything was cut.
    """
    scaffold = list(scaffold)
    matcher = _matcher(scaffold)
    if matcher is None:
        return text, False
    pieces = [part for line in scaffold for part in line.split(HOLE)]
    lines = text.splitlines()
    for i, line in enumerate(lines):
        normal = normalise_line(line)
        fragment = len(normal) >= _MIN_FRAGMENT and any(normal in part for part in pieces)
        if fragment or matcher.fullmatch(normal):
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
    """Take the text between the last complete pair of markers, else the whole output.

    Without a complete pair the whole output is used, trimmed, minus a lone start marker and
    anything before it (what is left when generation stops at the token limit). Markers nested
    inside the kept text are removed. Then a first line that only announces the answer is cut,
    and the text is cut before any line that repeats a `scaffold` line of the prompt, and
    paragraphs of scaffolding are cut when an answer remains.
    """
    pairs = re.findall(re.escape(start) + r"(.*?)" + re.escape(end), output, flags=re.DOTALL)
    if pairs:
        found = pairs[-1].rsplit(start, 1)[-1]  # nested: the innermost opening wins
    else:
        s = output.rfind(start)
        found = output[s + len(start) :] if s != -1 else output
    found = found.replace(start, "").replace(end, "").strip()
    text, echoed = cut_prompt_echo(found, scaffold)
    text, fenced = without_fence_lines(text)
    lead_in = lead_in_line(text)
    if lead_in is not None:
        text = text.split("\n", 1)[1].strip()
    text, cut = without_scaffold_paragraphs(text)
    return Extracted(
        text,
        had_markers=bool(pairs),
        echoed_prompt=echoed or fenced,
        lead_in=bool(lead_in),
        scaffold_paragraphs=cut,
    )
