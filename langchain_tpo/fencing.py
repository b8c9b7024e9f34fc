"""Fences around untrusted text in the loop's prompts.

Candidate answers, critiques and suggestions are model output, and a hostile or confused
response can contain text that looks like the prompt's own structure ("Answer B (not
preferred): ..."). Each such block is put between two identical fence lines that carry a
random tag, and the tag is drawn again until no fenced text contains it, so no text can close
its fence or open a section of its own. The tags derive from the run's seed, so a seeded run
sends the same prompts every time.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Iterable

_ALPHABET = string.ascii_lowercase + string.digits
_TAG_LENGTH = 8
_MAX_DRAWS = 100


def fence_line(seed: int, texts: Iterable[str]) -> str:
    """A fence line none of `texts` contains, drawn reproducibly from `seed`."""
    rng = random.Random(seed)
    texts = list(texts)
    for _ in range(_MAX_DRAWS):
        tag = "".join(rng.choice(_ALPHABET) for _ in range(_TAG_LENGTH))
        line = f"===== {tag} ====="
        if not any(tag in text for text in texts):
            return line
    msg = "Could not draw a fence tag absent from the fenced texts."  # 36^8 tags: unreachable
    raise RuntimeError(msg)


_ANY_FENCE_LINE = re.compile(
    rf"^[ \t]*=+ [{_ALPHABET}]{{{_TAG_LENGTH}}} =+[ \t]*$\n?", re.MULTILINE
)
# The opening of a fence line with its tag cut short or its closing run missing, as a policy
# writes it when it starts copying one and stops (`===== a13ap1`).
_CUT_FENCE_LINE = re.compile(
    rf"^[ \t]*===== [{_ALPHABET}]{{1,{_TAG_LENGTH}}}[ \t]*$\n?", re.MULTILINE
)
# Lines of nothing but equals signs at the very end: a fence line cut before its tag.
_TRAILING_RULES = re.compile(r"(?:\n[ \t]*={3,}[ \t]*)+\Z")


def without_fence_lines(text: str) -> tuple[str, bool]:
    """`text` minus any line shaped like a fence line, and whether there was one.

    A policy copies fence lines from its prompt into critiques and suggestions, and the next
    step's rewrite copies them from there, with a tag that is no longer the prompt's own. A
    fence line is never part of an answer, whatever tag it carries, nor is the start of one
    that generation cut short: a tag without its closing run, or a text that ends in a line of
    equals signs.
    """
    cleaned, whole = _ANY_FENCE_LINE.subn("", text)
    cleaned, cut = _CUT_FENCE_LINE.subn("", cleaned)
    cleaned, trailing = _TRAILING_RULES.subn("", "\n" + cleaned.rstrip())
    return (cleaned.strip(), True) if whole or cut or trailing else (text, False)


def tag_of(line: str) -> str:
    """The random tag of a fence line (`===== x7q2k9aa =====` -> `x7q2k9aa`)."""
    return line.strip("= ")


def fenced(text: str, line: str) -> str:
    """`text` between two copies of the fence `line`."""
    return f"{line}\n{text.strip()}\n{line}"
