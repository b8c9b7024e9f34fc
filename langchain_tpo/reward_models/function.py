"""FunctionReward: a plain Python function as a reward model."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_tpo.reward_models.base import Pair, Query, Reward, RewardModel, query_text


class FunctionReward(RewardModel):
    """Wrap `fn(query, response) -> float` as a `RewardModel`.

    `fn` receives the text of the user's request (the last human message when the query is a
    conversation); with `pass_messages=True` it receives the query as given instead. It may
    return a float, or a `Reward(score, feedback)` to pass feedback to the critique prompt.

    Example:
        ```python
        from langchain_tpo.reward_models import FunctionReward

        reward = FunctionReward(lambda query, response: -abs(len(response) - 200))
        ```
    """

    fn: Callable[[Any, str], Any]
    """The scoring function."""
    pass_messages: bool = False
    """Give `fn` the full conversation (a list of messages) instead of the request text."""

    def __init__(self, fn: Callable[[Any, str], Any] | None = None, **kwargs: Any) -> None:
        """Create from a function, positionally or as `fn=`."""
        if fn is not None:
            kwargs["fn"] = fn
        super().__init__(**kwargs)

    def get_name(self, suffix: str | None = None, *, name: str | None = None) -> str:
        """`FunctionReward(<function name>)`, so errors say which function misbehaved."""
        if name is None and self.name is None:
            fn_name = getattr(self.fn, "__name__", type(self.fn).__name__)
            name = f"FunctionReward({fn_name})"
        return super().get_name(suffix, name=name)

    def _query_for_fn(self, query: Query) -> Any:
        return query if self.pass_messages else query_text(query)

    def _score(self, pairs: Sequence[Pair]) -> Sequence[float | Reward]:
        return [self.fn(self._query_for_fn(q), r) for q, r in pairs]
