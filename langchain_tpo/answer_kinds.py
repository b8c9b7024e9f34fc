"""What kind of text an answer is: a real answer, or scaffolding, a refusal, or next to nothing.

TPO optimises whatever its reward model rewards, and small policies asked to rewrite an answer
often write *about* the rewrite instead ("Here's a rewritten version ...", "The user
requested ...", "Answer B is ...", review notes). Such text is not an answer, whatever it
scores. This module is the one published rule the project uses to count it: in the rewrite
step (a leading lead-in line, and paragraphs of scaffolding around an answer, are cut and
counted), in `tpo report` and in the benchmarks.

The rule is deliberately simple and readable: a text is

- `near_empty` when it has fewer than `MIN_WORDS` words;
- `scaffolding` when it contains a phrase that only text about rewriting, reviewing or the
  prompt itself uses (`SCAFFOLD_PATTERNS`);
- `refusal` when it opens (first 200 characters) by declining (`REFUSAL_PATTERNS`);
- `answer` otherwise.

A refusal is a legitimate answer to a harmful request; it is counted, not condemned.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Literal, NamedTuple

AnswerKind = Literal["answer", "scaffolding", "refusal", "near_empty"]
KINDS: tuple[AnswerKind, ...] = ("answer", "scaffolding", "refusal", "near_empty")

MIN_WORDS = 3
"""Fewer words than this is next to nothing."""

_REWORKED = (
    r"(?:re-?written|revised|improved|edited|updated|polished|refined|corrected|reworded|"
    r"rephrased|modified|enhanced)"
)
_TEXT = r"(?:version|answer|response|text|draft|reply)"

SCAFFOLD_PATTERNS: tuple[str, ...] = (
    # "Here's a rewritten version", "Here is the improved answer", "here's my revised reply"
    rf"\bhere(?:'s|\u2019s| is| are)\s+(?:an?\s+|the\s+|my\s+|your\s+)?"
    rf"(?:\w+\s+){{0,2}}?{_REWORKED}\s+(?:\w+\s+){{0,2}}?{_TEXT}",
    # "rewritten version", "a revised answer", "the improved response"
    rf"\b{_REWORKED}\s+(?:version|answer|response|draft)\b",
    # talking about the user in the third person: "The user requested", "the user asked"
    r"\bthe user(?:'s)?\s+(?:has\s+|had\s+)?(?:requested|asked|wants|wanted|question|request|"
    r"didn't|did not|is asking|was asking|needs)\b",
    r"\ba user (?:asked|requested)\b",
    r"\bthe user's (?:preferences|message|needs|intent|intention|willingness|feedback)\b",
    r"\bthis user(?:'s)?\b",
    r"\b(?:reply|respond|answer|talk|write) (?:back )?to the user\b",
    # judging the answer instead of giving one: "The answer does not contain", "make the
    # response more concise", "This answer is a good example of"
    r"\b(?:the|this|that|my|your) (?:answer|response|reply) (?:does not|doesn't|lacks|fails to|"
    r"could be|should be|needs to be)\b",
    r"\bmake (?:the|this|my|your) (?:answer|response|reply) (?:more|less|clearer|shorter|"
    r"longer|better)\b",
    r"\bthis (?:answer|response) is an? (?:good|great|clear|better|perfect) example\b",
    # notes on one's own edits: "I made a minor grammar mistake"
    r"\bI made an? (?:minor |small |few )?(?:grammar|grammatical|spelling|typo)",
    # the critique's labels: "Answer A", "answer B (not preferred)"
    r"\b(?:answer|response)\s+[ab]\b(?!\w)",
    # review and suggestion vocabulary
    r"\bsuggested (?:improvements?|changes|edits|revisions)\b",
    r"\bactionable (?:changes|suggestions|steps to improve)\b",
    r"\b(?:original|current|draft|previous|initial|your) (?:answer|response|draft)\s+(?:is|was)\s"
    r"+(?:too|not|a bit|quite|very)\b",
    r"\b(?:draft|original) (?:answer|response)\b",
    r"\bapply(?:ing)? (?:these|the|those) (?:suggestions|improvements|changes)\b",
    r"\b(?:a |the )?review of (?:this|the|your) (?:answer|response)\b",
    r"\breward model\b",
    r"\btext re-?writing\b",
    r"\brewrite (?:the|this|your) (?:input|text|answer|response|draft)\b",
    r"\bimproved answer\b",
    # replies that treat the user as the editor of a draft: "the edit I made", "the original
    # message", "you've already rewritten the answer"
    r"\b(?:the|this|my|your|a|an|new) (?:edits?|revisions?|rewrites?) (?:I|you|we) (?:made|did)\b",
    r"\bhere(?:'s|\u2019s| is) (?:a |the |my )?(?:new |revised |updated |small )?edit\b",
    r"\b(?:original|previous|earlier) (?:message|text|version)\b",
    r"\byou(?:'ve|\u2019ve| have) already (?:rewritten|revised|edited|answered|addressed)\b",
    r"\bI (?:have |'ve )?(?:rewritten|revised|rephrased|edited|improved) (?:the|your|my|this)\b",
    r"\bin this (?:answer|response|revision|rewrite),? I\b",
    r"</?response>",
)
"""Phrases that mark text about rewriting or reviewing an answer, not an answer."""

REFUSAL_PATTERNS: tuple[str, ...] = (
    r"\bI(?:'m| am)\s+(?:sorry|afraid)\b[^.!?]{0,80}\b(?:can(?:'|no)t|cannot|unable|not able|"
    r"won't|will not)\b",
    r"\bI\s+(?:can(?:'|no)t|cannot|won't|will not)\s+(?:help|assist|provide|do|answer|support|"
    r"comply|give|share|tell)\b",
    r"\bI(?:'m| am)\s+(?:not able|unable)\s+to\s+"
    r"(?:help|assist|provide|answer|comply|share|give)\b",
    r"\bas an AI(?: language model| assistant)?,? I\b",
)
"""Phrases that open a refusal."""

_SCAFFOLD = re.compile("|".join(f"(?:{p})" for p in SCAFFOLD_PATTERNS), re.IGNORECASE)
_REFUSAL = re.compile("|".join(f"(?:{p})" for p in REFUSAL_PATTERNS), re.IGNORECASE)
_REFUSAL_WINDOW = 200


class Classified(NamedTuple):
    """The kind of a text and the phrase that decided it (None for a plain answer)."""

    kind: AnswerKind
    evidence: str | None


def classify_answer(text: str) -> Classified:
    """Classify one answer by the published rule (see the module docstring)."""
    stripped = text.strip()
    if len(stripped.split()) < MIN_WORDS:
        return Classified("near_empty", stripped or None)
    match = _SCAFFOLD.search(stripped)
    if match:
        return Classified("scaffolding", match.group(0))
    match = _REFUSAL.search(stripped[:_REFUSAL_WINDOW])
    if match:
        return Classified("refusal", match.group(0))
    return Classified("answer", None)


def answer_kind(text: str) -> AnswerKind:
    """The kind of one answer."""
    return classify_answer(text).kind


def is_scaffolding(text: str) -> bool:
    """Whether the text is about rewriting or reviewing rather than an answer."""
    return classify_answer(text).kind == "scaffolding"


def count_kinds(texts: Iterable[str]) -> Counter[AnswerKind]:
    """How many texts of each kind (every kind present, zero when absent)."""
    counts: Counter[AnswerKind] = Counter(dict.fromkeys(KINDS, 0))
    counts.update(answer_kind(t) for t in texts)
    return counts


_LEAD_IN_MAX_WORDS = 16


def lead_in_line(text: str) -> str | None:
    """The first line of `text` when it only announces what follows, else None.

    A lead-in is a short first line that ends with a colon or is itself scaffolding
    ("Here is the improved answer:", "Revised response:"), followed by more text.
    """
    first, newline, rest = text.strip().partition("\n")
    if not newline or not rest.strip():
        return None
    line = first.strip().strip("*#_ ")
    if len(line.split()) > _LEAD_IN_MAX_WORDS:
        return None
    if _SCAFFOLD.search(line) or (line.endswith(":") and re.search(_TEXT, line, re.I)):
        return first
    return None


MIN_KEPT_WORDS = 12
"""What must remain of a text for its scaffolding paragraphs to be cut: a shorter remainder is
usually a stub of the same meta-talk, and the text is left whole (and counted as scaffolding)."""

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


def without_scaffold_paragraphs(text: str) -> tuple[str, int]:
    """`text` minus its paragraphs that are scaffolding, and how many were cut.

    Small policies often wrap a real answer in talk about it ("The user asked for ...",
    "Here's the revised version:" ... "I made it shorter."). Paragraphs (blocks between blank
    lines) that the rule calls scaffolding are cut when what remains is an answer or a refusal
    of at least `MIN_KEPT_WORDS` words; otherwise the text is returned unchanged, with 0.
    """
    paragraphs = [p for p in _PARAGRAPH_BREAK.split(text.strip()) if p.strip()]
    kept = [p for p in paragraphs if classify_answer(p).kind != "scaffolding"]
    if len(kept) == len(paragraphs):
        return text, 0
    remainder = "\n\n".join(p.strip("\n") for p in kept)
    if len(remainder.split()) < MIN_KEPT_WORDS or answer_kind(remainder) not in (
        "answer",
        "refusal",
    ):
        return text, 0
    return remainder, len(paragraphs) - len(kept)
