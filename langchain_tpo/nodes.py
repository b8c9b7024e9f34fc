"""The nodes of the TPO graph: sample, score, critique, suggest, rewrite.

Every node is split into a pure part that reads the state and builds a request, the model or
reward call (sync or async), and a pure part that turns the answer into a state update. The sync
and async node functions share everything but the call, so `invoke` and `ainvoke` run the same
algorithm.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.config import get_stream_writer

from langchain_tpo.config import TPOConfig
from langchain_tpo.inputs import conversation, validate_input
from langchain_tpo.parsing import extract_response, scaffold_lines
from langchain_tpo.prompts import MARKERS, TPOPrompts, render_context, render_notes
from langchain_tpo.reward_models.base import Pair, Query, Reward, RewardModel
from langchain_tpo.sampling import Samples, SamplingParams, asample, derive_seed, sample
from langchain_tpo.state import (
    CandidateDict,
    IterationDict,
    StepDict,
    TPOState,
    best_candidate,
    worst_candidate,
)

Update = dict[str, Any]


class Lazy:
    """A model given directly, or a zero-argument factory called once on first use."""

    def __init__(self, thing: Any) -> None:
        self._thing = thing
        self._ready = isinstance(thing, Runnable)

    def get(self) -> Any:
        if not self._ready:
            self._thing = self._thing()
            self._ready = True
        return self._thing


def _emit(event: dict[str, Any]) -> None:
    get_stream_writer()(event)


class TPONodes:
    """The node functions of one TPO graph, bound to its policy, reward, config and prompts."""

    def __init__(
        self,
        policy: BaseChatModel | Callable[[], BaseChatModel],
        reward: RewardModel | Callable[[], RewardModel],
        config: TPOConfig,
        prompts: TPOPrompts,
    ) -> None:
        self._policy = Lazy(policy)
        self._reward = Lazy(reward)
        self.config = config
        self.prompts = prompts
        self._rewrite_scaffold = scaffold_lines(prompts.rewrite)

    @property
    def policy(self) -> Runnable:
        return self._policy.get()

    @property
    def reward(self) -> RewardModel:
        reward = self._reward.get()
        if not isinstance(reward, RewardModel):
            msg = (
                f"reward must be a langchain_tpo RewardModel, got {type(reward).__name__}; wrap "
                "a function with FunctionReward(fn)."
            )
            raise TypeError(msg)
        return reward

    # -- sample ---------------------------------------------------------------------------

    def _settings(self, config: RunnableConfig) -> dict[str, Any]:
        settings = self.config.with_overrides(config.get("configurable")).model_dump()
        if settings["seed"] is None:
            settings["seed"] = random.SystemRandom().randrange(2**31 - 1)
        return settings

    def _sample_request(
        self, state: TPOState, config: RunnableConfig
    ) -> tuple[dict[str, Any], list[BaseMessage], SamplingParams]:
        validate_input(dict(state))
        settings = self._settings(config)
        _emit({"event": "tpo.stage", "stage": "sample", "iteration": -1})
        return settings, conversation(state), _params(settings, "sample")

    def _sample_update(self, state: TPOState, settings: dict[str, Any], samples: Samples) -> Update:
        texts = [t.strip() for t in samples.texts]
        usable = [t for t in texts if t]
        drafts = [d.strip() for d in state.get("drafts", []) if d.strip()]
        return {
            "settings": settings,
            "round": -1,
            "pending": drafts + usable,
            "model_calls": samples.requests,
            "usage": samples.usage,
            "empty_outputs": len(texts) - len(usable),
            "failures": samples.failures,
            "warnings": _failure_warnings(samples, "sample"),
        }

    def sample(self, state: TPOState, config: RunnableConfig) -> Update:
        settings, messages, params = self._sample_request(state, config)
        samples = sample(self.policy, messages, settings["num_samples"], params, config)
        return self._sample_update(state, settings, samples)

    async def asample(self, state: TPOState, config: RunnableConfig) -> Update:
        settings, messages, params = self._sample_request(state, config)
        samples = await asample(self.policy, messages, settings["num_samples"], params, config)
        return self._sample_update(state, settings, samples)

    # -- score ----------------------------------------------------------------------------

    def _score_request(self, state: TPOState) -> tuple[list[str], list[Pair]]:
        known = {c["text"] for c in state.get("candidates", [])}
        new = list(dict.fromkeys(t for t in state.get("pending", []) if t not in known))
        query: Query = conversation(state) if state.get("context") else state["query"]
        return new, [(query, text) for text in new]

    def _score_update(self, state: TPOState, new: list[str], rewards: list[Reward]) -> Update:
        settings, round_ = state["settings"], state["round"]
        scored = {c["text"]: c for c in state.get("candidates", [])}
        scored.update({t: _candidate(t, r, round_) for t, r in zip(new, rewards, strict=True)})
        # Every sample is kept, duplicates too; a text already in the cache is not rescored.
        added: list[CandidateDict] = [
            {**scored[t], "iteration": round_} for t in state.get("pending", [])
        ]
        cache = [*state.get("candidates", []), *added]
        best = best_candidate(cache)
        update: Update = {"pending": [], "candidates": added, "warnings": []}
        if best is not None:
            update["best_scores"] = [best["score"]]
        if round_ >= 0:
            step = state["step"]
            record: IterationDict = {**step, "candidates": added}
            update["history"] = [record]
            if not added:
                update["warnings"] = [
                    f"Iteration {round_} produced no usable rewrite "
                    f"({step.get('empty_outputs', 0)} empty, {step.get('prompt_echoes', 0)} "
                    "repeating the prompt); the cache is kept as it was."
                ]
        iterations_done = len(state.get("history", [])) + (1 if round_ >= 0 else 0)
        history_scores = [*state.get("best_scores", []), *update.get("best_scores", [])]
        stop = _stop_reason(settings, cache, iterations_done, history_scores)
        if stop:
            update["stop_reason"] = stop
            if stop == "no_usable_response":
                update["warnings"].append(
                    "The policy produced no usable response (all samples were empty or failed)."
                )
        _emit(
            {
                "event": "tpo.progress",
                "iteration": round_,
                "max_iterations": settings["max_iterations"],
                "best_score": best["score"] if best else None,
                "scores": [c["score"] for c in added],
                "num_candidates": len(cache),
                "stop_reason": stop,
            }
        )
        return update

    def score(self, state: TPOState, config: RunnableConfig) -> Update:
        new, pairs = self._score_request(state)
        return self._score_update(state, new, self.reward.evaluate(pairs))

    async def ascore(self, state: TPOState, config: RunnableConfig) -> Update:
        new, pairs = self._score_request(state)
        return self._score_update(state, new, await self.reward.aevaluate(pairs))

    # -- critique -------------------------------------------------------------------------

    def _critique_request(self, state: TPOState) -> tuple[StepDict, list[BaseMessage], Update]:
        settings, cache = state["settings"], state["candidates"]
        iteration = len(state.get("history", []))
        chosen = best_candidate(cache)
        assert chosen is not None  # the router ends the run on an empty cache
        rejected = worst_candidate(cache) if settings["mode"] == "tpo" else None
        extra: Update = {"warnings": []}
        if rejected is not None and rejected["text"] == chosen["text"]:
            rejected = None
            extra["warnings"] = [
                f"Iteration {iteration}: the cache holds a single distinct response, so the "
                "critique reviewed it alone (as in revision mode)."
            ]
        variables = {
            **_common(state, chosen),
            "chosen_notes": render_notes(chosen.get("feedback")),
        }
        if rejected is None:
            prompt = self.prompts.revision_critique
        else:
            prompt = self.prompts.critique
            variables["rejected"] = rejected["text"]
            variables["rejected_notes"] = render_notes(rejected.get("feedback"))
        _emit({"event": "tpo.stage", "stage": "critique", "iteration": iteration})
        step: StepDict = {"iteration": iteration, "chosen": chosen, "rejected": rejected}
        return step, _format(prompt, variables), extra

    def critique(self, state: TPOState, config: RunnableConfig) -> Update:
        step, messages, extra = self._critique_request(state)
        samples = sample(self.policy, messages, 1, self._one(state, "critique"), config)
        return _single_text_update(step, "critique", samples, extra)

    async def acritique(self, state: TPOState, config: RunnableConfig) -> Update:
        step, messages, extra = self._critique_request(state)
        samples = await asample(self.policy, messages, 1, self._one(state, "critique"), config)
        return _single_text_update(step, "critique", samples, extra)

    def _one(self, state: TPOState, stage: str) -> SamplingParams:
        return _params(state["settings"], stage, len(state.get("history", [])))

    # -- suggest --------------------------------------------------------------------------

    def _suggest_request(self, state: TPOState) -> list[BaseMessage]:
        step = state["step"]
        _emit({"event": "tpo.stage", "stage": "suggest", "iteration": step["iteration"]})
        variables = {**_common(state, step["chosen"]), "critique": step.get("critique", "")}
        return _format(self.prompts.suggest, variables)

    def suggest(self, state: TPOState, config: RunnableConfig) -> Update:
        messages = self._suggest_request(state)
        samples = sample(self.policy, messages, 1, self._one(state, "suggest"), config)
        return _single_text_update(dict(state["step"]), "suggestion", samples, {})

    async def asuggest(self, state: TPOState, config: RunnableConfig) -> Update:
        messages = self._suggest_request(state)
        samples = await asample(self.policy, messages, 1, self._one(state, "suggest"), config)
        return _single_text_update(dict(state["step"]), "suggestion", samples, {})

    # -- rewrite --------------------------------------------------------------------------

    def _rewrite_request(self, state: TPOState) -> list[BaseMessage]:
        step = state["step"]
        _emit({"event": "tpo.stage", "stage": "rewrite", "iteration": step["iteration"]})
        variables = {
            **_common(state, step["chosen"]),
            "suggestion": step.get("suggestion", ""),
            **MARKERS,
        }
        return _format(self.prompts.rewrite, variables)

    def _rewrite_update(self, state: TPOState, samples: Samples) -> Update:
        extracted = [extract_response(t, scaffold=self._rewrite_scaffold) for t in samples.texts]
        usable = [e.text for e in extracted if e.text]
        misses = sum(1 for e in extracted if e.text and not e.had_markers)
        echoes = sum(1 for e in extracted if e.echoed_prompt)
        empty = len(extracted) - len(usable)
        step = {
            **state["step"],
            "marker_misses": misses,
            "prompt_echoes": echoes,
            "empty_outputs": empty,
        }
        return {
            "step": step,
            "round": step["iteration"],
            "pending": usable,
            "model_calls": samples.requests,
            "usage": samples.usage,
            "marker_misses": misses,
            "prompt_echoes": echoes,
            "empty_outputs": empty,
            "failures": samples.failures,
            "warnings": _failure_warnings(samples, "rewrite"),
        }

    def rewrite(self, state: TPOState, config: RunnableConfig) -> Update:
        messages = self._rewrite_request(state)
        n = state["settings"]["num_samples"]
        samples = sample(self.policy, messages, n, self._one(state, "rewrite"), config)
        return self._rewrite_update(state, samples)

    async def arewrite(self, state: TPOState, config: RunnableConfig) -> Update:
        messages = self._rewrite_request(state)
        n = state["settings"]["num_samples"]
        samples = await asample(self.policy, messages, n, self._one(state, "rewrite"), config)
        return self._rewrite_update(state, samples)


def _params(settings: dict[str, Any], stage: str, iteration: int = -1) -> SamplingParams:
    return SamplingParams(
        temperature=settings["temperature"],
        top_p=settings["top_p"],
        max_tokens=settings["max_tokens"],
        seed=derive_seed(settings["seed"], stage, iteration),
    )


def _candidate(text: str, reward: Reward, iteration: int) -> CandidateDict:
    return {
        "text": text,
        "score": reward.score,
        "iteration": iteration,
        "feedback": reward.feedback,
    }


def _common(state: TPOState, chosen: CandidateDict) -> dict[str, str]:
    return {
        "context": render_context(state.get("context", [])),
        "query": state["query"],
        "chosen": chosen["text"],
    }


def _format(prompt: Any, variables: dict[str, str]) -> list[BaseMessage]:
    wanted = set(prompt.input_variables) | set(prompt.optional_variables)
    return list(prompt.format_messages(**{k: v for k, v in variables.items() if k in wanted}))


def _single_text_update(step: Any, key: str, samples: Samples, extra: Update) -> Update:
    text = samples.texts[0].strip() if samples.texts else ""
    warnings = list(extra.get("warnings", []))
    if not text:
        warnings.append(f"Iteration {step['iteration']}: the {key} came back empty.")
    return {
        "step": {**step, key: text},
        "model_calls": samples.requests,
        "usage": samples.usage,
        "failures": samples.failures,
        "warnings": warnings + _failure_warnings(samples, key),
    }


def _failure_warnings(samples: Samples, stage: str) -> list[str]:
    return [f"A {stage} request failed and was skipped: {e}" for e in samples.errors]


def _stop_reason(
    settings: dict[str, Any],
    cache: Sequence[CandidateDict],
    iterations_done: int,
    best_scores: Sequence[float],
) -> str | None:
    if not cache:
        return "no_usable_response"
    if settings["mode"] == "bon":
        return "bon"
    target = settings["target_score"]
    if target is not None and best_scores and best_scores[-1] >= target:
        return "target_score"
    if iterations_done >= settings["max_iterations"]:
        return "max_iterations"
    patience = settings["patience"]
    if patience and iterations_done >= patience and best_scores[-1] <= best_scores[-1 - patience]:
        return "patience"
    return None
