"""CombinedReward: several reward models combined into one reward, each one's score kept."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, Self

from pydantic import Field, PrivateAttr, model_validator

from langchain_tpo.reward_models.base import Pair, Reward, RewardModel, RewardModelError
from langchain_tpo.reward_models.combination import Combination


class CombinedReward(RewardModel):
    """Reward models combined into one, such as a helpfulness and a safety reward.

    Each component scores the same pairs; the reward is `sum(weight * score)`, or, with a
    `gate`, Llama 2's split made smooth: a gate component (say, a classifier of unsafe
    requests, as a logit) moves the reward from `weights` to `gated_weights` (see
    `Combination`). Every component's raw score is kept in the result (`Reward.components`,
    and each TPO candidate's `components`), so a reader sees why a response won. Feedback text
    of the components is joined, labelled by component. Async scoring runs the components
    concurrently.

    A component that reports parts of its own (a multi-label reward such as the default
    one) lends them to the rule as `component.part`, and they are kept as such in the result:
    a gate can be one label of a component, and another component can join its weighted sum.

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
    """The reward models to combine, by the name their scores are reported under."""
    weights: dict[str, float] = Field(default_factory=dict)
    """Weight of each component (or `component.part`); with neither weights nor a gate, every
    component counts once."""
    gate: str | None = None
    """A component (or `component.part`) whose score, a logit, moves the reward from `weights`
    to `gated_weights`."""
    gate_bias: float = 0.0
    """Added to the gate's score before its sigmoid."""
    gated_weights: dict[str, float] = Field(default_factory=dict)
    """Weight of each component when the gate is fully on."""

    _rule: Combination = PrivateAttr()

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not self.components:
            msg = "CombinedReward needs at least one component reward model."
            raise ValueError(msg)
        weights = self.weights
        if not weights and self.gate is None:
            weights = dict.fromkeys(self.components, 1.0)
        try:
            self._rule = Combination(
                weights=weights,
                gate=self.gate,
                gate_bias=self.gate_bias,
                gated_weights=self.gated_weights,
            )
        except ValueError as error:
            msg = f"CombinedReward: {error}"
            raise ValueError(msg) from None
        unknown = [name for name in self._rule.parts if _component_of(name) not in self.components]
        if unknown:
            msg = (
                f"CombinedReward: {unknown} named in the weights or gate are not components "
                f"(the components are {sorted(self.components)}; a part of a component's "
                "reward is named `component.part`)."
            )
            raise ValueError(msg)
        used = {_component_of(name) for name in self._rule.parts}
        unused = [name for name in self.components if name not in used]
        if unused:
            msg = (
                f"CombinedReward: components {unused} have no weight and are not the gate; "
                "give them a weight (0 to only report them) or remove them."
            )
            raise ValueError(msg)
        return self

    @property
    def combination(self) -> Combination:
        """The rule that turns the components' scores into the reward."""
        return self._rule

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
            parts: dict[str, float] = {}
            for name, rewards in scored.items():
                parts[name] = rewards[i].score
                for part, value in (rewards[i].components or {}).items():
                    parts[f"{name}.{part}"] = value
            missing = [name for name in self._rule.parts if name not in parts]
            if missing:
                msg = (
                    f"CombinedReward: the rule reads {missing}, which the components did not "
                    f"report for pair {i} (they reported {sorted(parts)})."
                )
                raise RewardModelError(msg)
            total = self._rule(parts)
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


def _component_of(part: str) -> str:
    """The component a rule's part belongs to: `head` for `head` and for `head.helpfulness`."""
    return part.split(".", 1)[0]
