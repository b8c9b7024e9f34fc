"""CombinedReward: several reward models added up with weights, each one's score kept."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from typing import Any, Self

from pydantic import Field, model_validator

from langchain_tpo.reward_models.base import Pair, Reward, RewardModel


class CombinedReward(RewardModel):
    """A weighted sum of reward models, such as a helpfulness and a safety reward.

    Each component scores the same pairs; the reward is `sum(weight * score)`, and every
    component's raw score is kept in the result (`Reward.components`, and each TPO
    candidate's `components`), so a reader sees why a response won. Feedback text of the
    components is joined, labelled by component. Async scoring runs the components
    concurrently.

    Raw rewards of different models live on different scales: choose the weights on data you
    trust (or standardise each model first), and compare components only through them.

    Example:
        ```python
        from langchain_tpo.reward_models import CombinedReward, HuggingFaceRewardModel

        reward = CombinedReward(
            components={
                "helpfulness": HuggingFaceRewardModel.from_model_id("path/to/helpful-rm"),
                "safety": HuggingFaceRewardModel.from_model_id("path/to/safety-rm"),
            },
            weights={"helpfulness": 1.0, "safety": 0.5},
        )
        reward.evaluate([("How do I boil an egg?", "Simmer it for 9 minutes.")])
        # [Reward(score=..., feedback=None, components={"helpfulness": ..., "safety": ...})]
        ```
    """

    components: dict[str, RewardModel]
    """The reward models to add up, by the name their scores are reported under."""
    weights: dict[str, float] = Field(default_factory=dict)
    """Weight of each component; a component without one counts once (weight 1)."""

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not self.components:
            msg = "CombinedReward needs at least one component reward model."
            raise ValueError(msg)
        unknown = sorted(set(self.weights) - set(self.components))
        if unknown:
            msg = (
                f"CombinedReward: weights given for {unknown}, which are not components "
                f"(the components are {sorted(self.components)})."
            )
            raise ValueError(msg)
        for name, weight in self.weights.items():
            if isinstance(weight, bool) or not math.isfinite(weight):
                msg = f"CombinedReward: the weight of {name!r} must be a finite number."
                raise ValueError(msg)
        return self

    def weight(self, name: str) -> float:
        """The weight of one component."""
        return float(self.weights.get(name, 1.0))

    def _score(self, pairs: Sequence[Pair]) -> Sequence[float | Reward]:
        return self._combine({name: rm.evaluate(pairs) for name, rm in self.components.items()})

    async def _ascore(self, pairs: Sequence[Pair]) -> Sequence[float | Reward]:
        names = list(self.components)
        results = await asyncio.gather(*(self.components[n].aevaluate(pairs) for n in names))
        return self._combine(dict(zip(names, results, strict=True)))

    def _combine(self, scored: Mapping[str, list[Reward]]) -> list[Reward]:
        count = len(next(iter(scored.values())))
        combined = []
        for i in range(count):
            parts = {name: rewards[i].score for name, rewards in scored.items()}
            total = sum(self.weight(name) * score for name, score in parts.items())
            notes = [
                f"{name}: {rewards[i].feedback}"
                for name, rewards in scored.items()
                if rewards[i].feedback
            ]
            combined.append(Reward(total, "\n".join(notes) or None, parts))
        return combined

    def close(self) -> None:
        """Close every component that has a `close()` (engines a component started)."""
        for component in self.components.values():
            close: Any = getattr(component, "close", None)
            if callable(close):
                close()
