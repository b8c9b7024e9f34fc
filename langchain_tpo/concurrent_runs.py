"""How many TPO runs to admit at once on a policy: as many as its backend serves well.

A backend that decodes one batch at a time in this process (transformers) makes every run in
flight wait for all the others: with 32 runs admitted at once, `tpo eval` wrote its first row
after 17-21 minutes on two cores, where one run takes about a minute and a half. Admitting runs
only as fast as the backend serves them keeps rows coming one by one. A policy says how many
runs it serves well with a `runs_at_once()` method; engines that batch continuously (vLLM, a
server) say nothing and get the tool's usual number.
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableBinding


def runs_at_once(policy: Any, usual: int) -> tuple[int, str | None]:
    """Runs to admit at once on `policy`, and why when it is not `usual`.

    Args:
        policy: The policy chat model (possibly bound with `.bind(...)`).
        usual: The number for a policy that does not say (a continuously batching engine).

    Returns:
        The number, and a sentence saying why it was chosen, or None when it is `usual`.
    """
    while isinstance(policy, RunnableBinding):
        policy = policy.bound
    hint = getattr(policy, "runs_at_once", None)
    if not callable(hint):
        return usual, None
    runs = int(hint())
    if runs < 1:
        return usual, None
    why = (
        f"{type(policy).__name__} decodes one batch at a time in this process, so runs are "
        f"admitted {runs} at a time and results come one by one"
    )
    return runs, why
