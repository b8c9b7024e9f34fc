"""TPO's progress events as lines a person reads while the answer is being worked out.

A streaming reply shows them as `reasoning_content` deltas, the field chat front-ends show as
a model's thinking, before the answer arrives as `content`.
"""

from __future__ import annotations

from typing import Any

_DOING = {
    "sample": "sampling {n} answers",
    "critique": "comparing the best answer so far with the worst",
    "suggest": "turning that comparison into suggestions",
    "rewrite": "rewriting the best answer {n} ways",
}


def progress_line(event: dict[str, Any], num_samples: int, max_iterations: int) -> str | None:
    """One line (ending in a newline) for a `tpo.*` progress event; None for other events."""
    kind = event.get("event")
    iteration = event.get("iteration", -1)
    step = "Samples" if iteration < 0 else f"Iteration {iteration + 1} of {max_iterations}"
    if kind == "tpo.queued":
        ahead = event.get("ahead", 0)
        return f"Waiting for a free slot ({ahead} request(s) ahead)...\n"
    if kind == "tpo.stage":
        doing = _DOING.get(event.get("stage", ""), str(event.get("stage")))
        return f"{step}: {doing.format(n=num_samples)}...\n"
    if kind == "tpo.progress":
        scores = event.get("scores") or []
        what = "answers" if iteration < 0 else "rewrites"
        return f"{step}: scored {len(scores)} {what}; best reward so far {_score(event)}.\n"
    if kind == "tpo.end":
        iterations = event.get("iterations", 0)
        reason = event.get("stop_reason") or "done"
        return f"Done ({reason}) after {iterations} iteration(s); best reward {_score(event)}.\n"
    return None


def _score(event: dict[str, Any]) -> str:
    best = event.get("best_score")
    return f"{best:+.3f}" if isinstance(best, (int, float)) else "none"
