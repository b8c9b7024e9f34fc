"""`tpo run --interactive`: the person at the terminal reviews the critique and rewrite steps.

At each review point (see `langchain_tpo.review`) the terminal shows what the model proposes
and reads the person's decision from stdin; Enter keeps the proposal. Questions go to stderr,
so stdout stays the answer.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TextIO

_PREVIEW = 300


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _PREVIEW else text[: _PREVIEW - 3] + "..."


class TerminalReviewer:
    """Asks a person for review decisions in the terminal."""

    def __init__(self, stdin: TextIO | None = None, stderr: TextIO | None = None) -> None:
        self.stdin = stdin or sys.stdin
        self.stderr = stderr or sys.stderr

    def say(self, text: str = "") -> None:
        print(text, file=self.stderr, flush=True)

    def ask(self, question: str) -> str:
        self.stderr.write(question)
        self.stderr.flush()
        line = self.stdin.readline()
        if not line:  # end of input: keep every proposal from here on
            return ""
        return line.strip()

    def decide(self, request: dict[str, Any]) -> Any:
        """The decision for one review request: a dict of changes, or True to accept."""
        if request.get("error"):
            self.say(f"That did not work: {request['error']}")
        handler: Callable[[dict[str, Any]], dict[str, Any]] = (
            self._critique if request.get("review") == "critique" else self._rewrite
        )
        decision = handler(request)
        return decision or True

    def _critique(self, request: dict[str, Any]) -> dict[str, Any]:
        self.say(f"\n--- Review before the critique of iteration {request['iteration'] + 1} ---")
        for candidate in request["candidates"]:
            mark = {request["chosen"]: "chosen", request["rejected"]: "rejected"}.get(
                candidate["index"], ""
            )
            self.say(
                f"[{candidate['index']}] {candidate['score']:+.3f} {mark:>8}  "
                f"{_short(candidate['text'])}"
            )
        decision: dict[str, Any] = {}
        chosen = self.ask(f"Chosen answer [{request['chosen']}]: ")
        if chosen:
            decision["chosen"] = _index(chosen)
        default = "none" if request["rejected"] is None else request["rejected"]
        rejected = self.ask(f"Rejected answer, or 'none' [{default}]: ")
        if rejected:
            decision["rejected"] = None if rejected.lower() == "none" else _index(rejected)
        critique = self.ask("Your critique (Enter lets the model write it): ")
        if critique:
            decision["critique"] = critique
        return decision

    def _rewrite(self, request: dict[str, Any]) -> dict[str, Any]:
        self.say(f"\n--- Review before the rewrite of iteration {request['iteration'] + 1} ---")
        self.say(f"Critique:\n{request['critique']}\n")
        self.say(f"Suggestions:\n{request['suggestion']}\n")
        suggestion = self.ask("New suggestions (one line; Enter keeps these): ")
        return {"suggestion": suggestion} if suggestion else {}


def _index(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        return text  # the graph says what is wrong and asks again
