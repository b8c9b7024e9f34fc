"""The nodes of the TPO graph: prepare, sample, score, critique, suggest, rewrite, finish.

Every model node is split into a pure part that reads the state and builds a request, the
model or reward call (sync or async), and a pure part that turns the answer into a state
update. The sync and async node functions share everything but the call, so `invoke` and
`ainvoke` run the same algorithm.

Thinking and schemas: every reply is split into thinking and answer (`thinking`); a reply that
thought and never answered is counted (`thinking_cutoffs`) and not scored, and only answers
reach the cache, the prompts and the result; earlier assistant turns lose their thinking before
they go back to the model. With an answer schema (`structured`), samples and rewrites are asked
for in the schema and validated: a reply that does not fit is counted (`invalid_outputs`).

Failures: each request is timed and retried by `resilience`. A stage that still fails ends the
run with the best answer so far (`stop_reason="stage_failed"`, `error` says why), unless there
is no answer yet: then the error is raised, since there is nothing to return. The run's
deadline (`TPOConfig.timeout_s`) is checked before every stage (`stop_reason="timeout"`).
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import adispatch_custom_event, dispatch_custom_event
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.config import get_stream_writer
from langgraph.runtime import Runtime

from langchain_tpo import review
from langchain_tpo.config import DEFAULT_THINKING_TAGS, TPOConfig
from langchain_tpo.errors import TPOInputError
from langchain_tpo.fencing import fence_line, fenced, tag_of
from langchain_tpo.inputs import validate_input
from langchain_tpo.parsing import HOLE, extract_response, scaffold_lines
from langchain_tpo.prompts import MARKERS, TPOPrompts, render_context, render_notes
from langchain_tpo.resilience import RequestPolicy, acall, call, describe
from langchain_tpo.reward_models.base import Pair, Query, Reward, RewardModel
from langchain_tpo.run_order import METADATA_KEY, next_run_order
from langchain_tpo.sampling import Samples, SamplingParams, asample, derive_seed, sample
from langchain_tpo.state import (
    COUNTERS,
    CandidateDict,
    IterationDict,
    PendingDict,
    StepDict,
    TPOState,
    best_candidate,
    worst_candidate,
)
from langchain_tpo.structured import AnswerSchema, InvalidAnswer
from langchain_tpo.thinking import Reply, split_reply, stage_thinking, strip_thinking

Update = dict[str, Any]


class Lazy:
    """A model given directly, or a zero-argument factory called once on first use."""

    def __init__(self, thing: Any) -> None:
        self._thing = thing
        self.ready = isinstance(thing, Runnable)
        self._lock = threading.Lock()

    def get(self) -> Any:
        """The model, built on the first call (once, whatever the number of threads)."""
        if not self.ready:
            with self._lock:
                if not self.ready:
                    self._thing = self._thing()
                    self.ready = True
        return self._thing

    async def aget(self) -> Any:
        """The model; a factory runs in a worker thread, so the event loop never blocks."""
        if not self.ready:
            await asyncio.to_thread(self.get)
        return self._thing


@dataclass
class _Plan:
    """A model request a node is about to make."""

    step: StepDict
    messages: list[BaseMessage] | None
    """None when nothing needs asking (a person supplied the text)."""
    event: dict[str, Any]
    warnings: list[str]
    fence: str = ""


def fresh_run() -> Update:
    """Every per-run field at its starting value: a new input never sees an old run."""
    return {
        "answer": "",
        "score": None,
        "candidates": [],
        "history": [],
        "best_scores": [],
        "pending": [],
        "round": -1,
        "step": {},
        "stop_reason": None,
        "error": None,
        "warnings": [],
        "usage": {},
        **dict.fromkeys(COUNTERS, 0),
    }


class TPONodes:
    """The node functions of one TPO graph, bound to its policy, reward, config and prompts."""

    def __init__(
        self,
        policy: Runnable | Callable[[], Runnable],
        reward: RewardModel | Callable[[], RewardModel],
        config: TPOConfig,
        prompts: TPOPrompts,
        human_review: frozenset[str] = frozenset(),
        answer_schema: AnswerSchema | None = None,
    ) -> None:
        self._policy = Lazy(policy)
        self._reward = Lazy(reward)
        self.config = config
        self.prompts = prompts
        self.human_review = human_review
        self.answer_schema = answer_schema
        self._rewrite_scaffold = scaffold_lines(prompts.rewrite)
        variables = set(prompts.rewrite.input_variables) | set(prompts.rewrite.optional_variables)
        self._rewrite_uses_markers = "response_start" in variables

    @property
    def policy(self) -> Runnable:
        return self._checked_policy(self._policy.get())

    @property
    def reward(self) -> RewardModel:
        return self._checked_reward(self._reward.get())

    async def apolicy(self) -> Runnable:
        return self._checked_policy(await self._policy.aget())

    async def areward(self) -> RewardModel:
        return self._checked_reward(await self._reward.aget())

    @staticmethod
    def _checked_policy(policy: Any) -> Runnable:
        if not isinstance(policy, Runnable):
            msg = f"policy must be a chat model (a Runnable), got {type(policy).__name__}."
            raise TypeError(msg)
        return policy

    @staticmethod
    def _checked_reward(reward: Any) -> RewardModel:
        if not isinstance(reward, RewardModel):
            msg = (
                f"reward must be a langchain_tpo RewardModel, got {type(reward).__name__}; wrap "
                "a function with FunctionReward(fn)."
            )
            raise TypeError(msg)
        return reward

    # -- prepare ----------------------------------------------------------------------------

    def prepare(self, state: TPOState, config: RunnableConfig, runtime: Runtime) -> Update:
        """Check the input, fix the run's settings and start a clean run on the thread."""
        try:
            given = validate_input(dict(state))
        except (TypeError, ValueError) as e:
            raise TPOInputError(str(e)) from e
        settings = self.config.with_overrides(
            config.get("configurable"), getattr(runtime, "context", None)
        ).model_dump()
        if settings["seed"] is None:
            settings["seed"] = random.getrandbits(31)
        # Backends that serve one batch at a time serve earlier runs first (run_order.py).
        settings[METADATA_KEY] = next_run_order()
        timeout = settings["timeout_s"]
        tags = _tags(settings)
        drafts = [
            split_reply(d, tags, asked_not_to_think=True)  # a draft is meant as an answer
            for d in given.get("drafts", [])
            if d.strip()
        ]
        pending, counts = self._answers(drafts)
        warnings = [
            f"{count} draft(s) {why} and were left out."
            for count, why in (
                (counts["invalid_outputs"], "did not fit the answer schema"),
                (counts["thinking_cutoffs"], "held thinking and no answer"),
            )
            if count
        ]
        conversation = [*state.get("turns", []), *given.get("context", [])]
        return {
            **fresh_run(),
            "invalid_outputs": counts["invalid_outputs"],
            "thinking_cutoffs": counts["thinking_cutoffs"],
            "query": given["query"],
            "settings": settings,
            "conversation": strip_thinking(conversation, tags),
            "context": [],
            "drafts": [],
            "pending": pending,
            "warnings": warnings,
            "deadline": time.time() + timeout if timeout else None,
        }

    async def aprepare(self, state: TPOState, config: RunnableConfig, runtime: Runtime) -> Update:
        return self.prepare(state, config, runtime)

    # -- sample -----------------------------------------------------------------------------

    def _asked_query(self, state: TPOState) -> str:
        """The query as the policy sees it: with an answer schema, the schema follows it."""
        if self.answer_schema is None:
            return state["query"]
        return f"{state['query']}\n\n{self.answer_schema.instruction()}"

    def _answers(self, replies: Sequence[Reply]) -> tuple[list[PendingDict], dict[str, int]]:
        """The usable answers of sample replies (or drafts), and what was left out and why."""
        counts = {"thinking_cutoffs": 0, "empty_outputs": 0, "invalid_outputs": 0}
        usable: list[PendingDict] = []
        for reply in replies:
            if reply.cut_in_thinking:
                counts["thinking_cutoffs"] += 1
                continue
            text = reply.answer.strip()
            if not text:
                counts["empty_outputs"] += 1
                continue
            if self.answer_schema is not None:
                try:
                    _, text = self.answer_schema.validate(text)
                except InvalidAnswer:
                    counts["invalid_outputs"] += 1
                    continue
            usable.append({"text": text, "thinking": reply.thinking})
        return usable, counts

    def _sample_plan(self, state: TPOState) -> _Plan:
        return _Plan(
            step={},
            messages=[*state.get("conversation", []), HumanMessage(self._asked_query(state))],
            event={"event": "tpo.stage", "stage": "sample", "iteration": -1},
            warnings=[],
        )

    def _sample_update(self, state: TPOState, samples: Samples) -> Update:
        usable, counts = self._answers(samples.replies)
        drafts = _pending(state)
        update = {
            "pending": drafts + usable,
            **_counted(state, samples, **counts),
            "warnings": _warnings(state, samples, "sample"),
        }
        if not usable and samples.last_error is not None:
            if not drafts:
                raise samples.last_error  # nothing to answer with: the policy is down
            update.update(_stage_failed(state, "sample", samples))
        return update

    def sample(self, state: TPOState, config: RunnableConfig) -> Update:
        if stop := _timed_out(state):
            return stop
        plan = self._sample_plan(state)
        _emit(plan.event, config)
        n = state["settings"]["num_samples"]
        samples = self._draw(state, plan, "sample", config, n)
        return self._sample_update(state, samples)

    async def asample(self, state: TPOState, config: RunnableConfig) -> Update:
        if stop := _timed_out(state):
            return stop
        plan = self._sample_plan(state)
        await _aemit(plan.event, config)
        n = state["settings"]["num_samples"]
        samples = await self._adraw(state, plan, "sample", config, n)
        return self._sample_update(state, samples)

    # -- score ------------------------------------------------------------------------------

    def _score_request(self, state: TPOState) -> tuple[list[str], list[Pair]] | None:
        """The texts to score, or None when the deadline passed and the cache has an answer."""
        if state.get("candidates") and _timed_out(state):
            return None
        known = {c["text"] for c in state.get("candidates", [])}
        new = list(dict.fromkeys(p["text"] for p in _pending(state) if p["text"] not in known))
        conversation = state.get("conversation", [])
        query: Query = (
            [*conversation, HumanMessage(state["query"])] if conversation else state["query"]
        )
        schema = self.answer_schema
        return new, [(query, schema.reward_text(t) if schema else t) for t in new]

    def _score_failed(self, state: TPOState, error: Exception, retries: int) -> Update:
        if not state.get("candidates"):
            raise error  # no scored answer to fall back on
        update = _stage_failed(state, "score", None, error=error)
        update["retries"] = state.get("retries", 0) + retries
        update["pending"] = []
        return update

    def _score_update(
        self, state: TPOState, new: list[str], rewards: list[Reward], retries: int
    ) -> Update:
        settings, round_ = state["settings"], state["round"]
        old = list(state.get("candidates", []))
        scored = {c["text"]: c for c in old}
        scored.update({t: _candidate(t, r, round_) for t, r in zip(new, rewards, strict=True)})
        # Every sample is kept, duplicates too; a text already in the cache is not rescored.
        added: list[CandidateDict] = [
            {**scored[p["text"]], "iteration": round_, "thinking": p["thinking"]}
            for p in _pending(state)
        ]
        cache = [*old, *added]
        best = best_candidate(cache)
        warnings = list(state.get("warnings", []))
        update: Update = {"pending": [], "candidates": cache, "retries": state.get("retries", 0)}
        update["retries"] += retries
        best_scores = list(state.get("best_scores", []))
        if best is not None:
            best_scores.append(best["score"])
        update["best_scores"] = best_scores
        history = list(state.get("history", []))
        if round_ >= 0:
            step = state["step"]
            history.append(IterationDict(**step))
            if not added:
                warnings.append(
                    f"Iteration {round_} produced no usable rewrite "
                    f"({step.get('empty_outputs', 0)} empty, {step.get('prompt_echoes', 0)} "
                    "repeating the prompt); the cache is kept as it was."
                )
        update["history"] = history
        stop = state.get("stop_reason") or _stop_reason(
            settings, cache, len(history), best_scores, state.get("deadline")
        )
        update["stop_reason"] = stop
        if stop == "no_usable_response":
            warnings.append(
                "The policy produced no usable response (every sample was empty or failed, ran "
                "out of tokens while thinking, or did not fit the answer schema: see the counts)."
            )
        update["warnings"] = warnings
        update["progress"] = {
            "event": "tpo.progress",
            "iteration": round_,
            "max_iterations": settings["max_iterations"],
            "best_score": best["score"] if best else None,
            "scores": [c["score"] for c in added],
            "num_candidates": len(cache),
            "stop_reason": stop,
        }
        return update

    def score(self, state: TPOState, config: RunnableConfig) -> Update:
        request = self._score_request(state)
        if request is None:
            return {"pending": [], **_timeout(state)}
        new, pairs = request
        retries: list[BaseException] = []
        try:
            rewards = (
                call(
                    lambda: self.reward.evaluate(pairs, config),
                    _requests(state, grace=True),
                    "the reward request",
                    on_retry=retries.append,
                )
                if pairs
                else []
            )
        except Exception as e:
            return self._score_failed(state, e, len(retries))
        update = self._score_update(state, new, rewards, len(retries))
        _emit(update.pop("progress"), config)
        return update

    async def ascore(self, state: TPOState, config: RunnableConfig) -> Update:
        request = self._score_request(state)
        if request is None:
            return {"pending": [], **_timeout(state)}
        new, pairs = request
        retries: list[BaseException] = []
        reward = await self.areward()
        try:
            rewards = (
                await acall(
                    lambda: reward.aevaluate(pairs, config),
                    _requests(state, grace=True),
                    "the reward request",
                    on_retry=retries.append,
                )
                if pairs
                else []
            )
        except Exception as e:
            return self._score_failed(state, e, len(retries))
        update = self._score_update(state, new, rewards, len(retries))
        await _aemit(update.pop("progress"), config)
        return update

    # -- critique ---------------------------------------------------------------------------

    def _critique_plan(self, state: TPOState) -> _Plan:
        settings, cache = state["settings"], state["candidates"]
        iteration = len(state.get("history", []))
        chosen = best_candidate(cache)
        assert chosen is not None  # the router ends the run on an empty cache
        rejected = None
        warnings: list[str] = []
        if settings["mode"] == "tpo":
            rejected = worst_candidate(cache, unlike=chosen["text"])
            if rejected is None:
                warnings.append(
                    f"Iteration {iteration}: the cache holds a single distinct response, so the "
                    "critique reviewed it alone (as in revision mode)."
                )
        step: StepDict = {"iteration": iteration, "chosen": chosen, "rejected": rejected}
        if "critique" in self.human_review:
            request = review.critique_request(state["query"], cache, step)
            step = review.ask(request, lambda d: review.apply_critique_review(step, cache, d))
        event = {"event": "tpo.stage", "stage": "critique", "iteration": iteration}
        if step.get("critique"):  # written by the person: nothing to ask the model
            return _Plan(step, None, event, warnings)
        chosen, rejected = step["chosen"], step.get("rejected")
        texts = [chosen["text"]] + ([rejected["text"]] if rejected else [])
        fence = self._fence(state, "critique", iteration, texts)
        variables = {
            **self._common(state, chosen, fence),
            "chosen_notes": render_notes(chosen.get("feedback")),
        }
        if rejected is None:
            prompt = self.prompts.revision_critique
        else:
            prompt = self.prompts.critique
            variables["rejected"] = rejected["text"]
            variables["fenced_rejected"] = fenced(rejected["text"], fence)
            variables["rejected_notes"] = render_notes(rejected.get("feedback"))
        return _Plan(step, _format(prompt, variables), event, warnings, fence)

    def critique(self, state: TPOState, config: RunnableConfig) -> Update:
        if stop := _timed_out(state):
            return stop
        plan = self._critique_plan(state)
        _emit(plan.event, config)
        samples = self._draw(state, plan, "critique", config)
        return _text_update(state, plan, "critique", samples)

    async def acritique(self, state: TPOState, config: RunnableConfig) -> Update:
        if stop := _timed_out(state):
            return stop
        plan = self._critique_plan(state)
        await _aemit(plan.event, config)
        samples = await self._adraw(state, plan, "critique", config)
        return _text_update(state, plan, "critique", samples)

    def _draw(
        self, state: TPOState, plan: _Plan, stage: str, config: RunnableConfig, n: int = 1
    ) -> Samples:
        """`n` of the policy's replies to the plan's request (none when a person wrote it)."""
        if plan.messages is None:
            return Samples()
        params = self._params(state["settings"], stage, _iteration(plan))
        config = _ordered(config, state)
        return sample(
            self.policy, plan.messages, n, params, config, policy=_requests(state), stage=stage
        )

    async def _adraw(
        self, state: TPOState, plan: _Plan, stage: str, config: RunnableConfig, n: int = 1
    ) -> Samples:
        if plan.messages is None:
            return Samples()
        params = self._params(state["settings"], stage, _iteration(plan))
        config = _ordered(config, state)
        model = await self.apolicy()
        return await asample(
            model, plan.messages, n, params, config, policy=_requests(state), stage=stage
        )

    # -- suggest ----------------------------------------------------------------------------

    def _suggest_plan(self, state: TPOState) -> _Plan:
        step = state["step"]
        critique = step.get("critique", "")
        fence = self._fence(state, "suggest", step["iteration"], [step["chosen"]["text"], critique])
        variables = {
            **self._common(state, step["chosen"], fence),
            "critique": critique,
            "fenced_critique": fenced(critique, fence),
        }
        event = {"event": "tpo.stage", "stage": "suggest", "iteration": step["iteration"]}
        return _Plan(dict(step), _format(self.prompts.suggest, variables), event, [], fence)  # type: ignore[arg-type]

    def suggest(self, state: TPOState, config: RunnableConfig) -> Update:
        if stop := _timed_out(state):
            return stop
        plan = self._suggest_plan(state)
        _emit(plan.event, config)
        return _text_update(state, plan, "suggestion", self._draw(state, plan, "suggest", config))

    async def asuggest(self, state: TPOState, config: RunnableConfig) -> Update:
        if stop := _timed_out(state):
            return stop
        plan = self._suggest_plan(state)
        await _aemit(plan.event, config)
        samples = await self._adraw(state, plan, "suggest", config)
        return _text_update(state, plan, "suggestion", samples)

    # -- rewrite ----------------------------------------------------------------------------

    def _rewrite_plan(self, state: TPOState) -> _Plan:
        step: StepDict = dict(state["step"])  # type: ignore[assignment]
        if "rewrite" in self.human_review:
            request = review.rewrite_request(state["query"], step)
            current = step
            step = review.ask(request, lambda d: review.apply_rewrite_review(current, d))
        suggestion = step.get("suggestion", "")
        fence = self._fence(
            state, "rewrite", step["iteration"], [step["chosen"]["text"], suggestion]
        )
        variables = {
            **self._common(state, step["chosen"], fence),
            "critique": step.get("critique", ""),
            "fenced_critique": fenced(step.get("critique", ""), fence),
            "suggestion": suggestion,
            "fenced_suggestion": fenced(suggestion, fence),
            **MARKERS,
        }
        event = {"event": "tpo.stage", "stage": "rewrite", "iteration": step["iteration"]}
        return _Plan(step, _format(self.prompts.rewrite, variables), event, [], fence)

    def _rewrite_answers(
        self, plan: _Plan, replies: Sequence[Reply]
    ) -> tuple[list[PendingDict], dict[str, int]]:
        """The usable rewrites, and the counts of what was cut or left out."""
        if self.answer_schema is not None:  # an object: validated whole, nothing to cut
            return self._answers(replies)
        # A line carrying the fence's tag is a replay of the prompt, however it is decorated.
        scaffold = self._rewrite_scaffold | {f"{HOLE}{tag_of(plan.fence).casefold()}{HOLE}"}
        answered = [r for r in replies if not r.cut_in_thinking]
        extracted = [(extract_response(r.answer, scaffold=scaffold), r) for r in answered]
        usable: list[PendingDict] = [
            {"text": e.text, "thinking": r.thinking} for e, r in extracted if e.text
        ]
        counts = {
            "marker_misses": (
                sum(1 for e, _ in extracted if e.text and not e.had_markers)
                if self._rewrite_uses_markers
                else 0
            ),
            "prompt_echoes": sum(1 for e, _ in extracted if e.echoed_prompt),
            "lead_ins": sum(1 for e, _ in extracted if e.lead_in),
            "scaffold_cuts": sum(1 for e, _ in extracted if e.scaffold_paragraphs),
            "empty_outputs": len(extracted) - len(usable),
            "thinking_cutoffs": len(replies) - len(answered),
        }
        return usable, counts

    def _rewrite_update(self, state: TPOState, plan: _Plan, samples: Samples) -> Update:
        usable, counts = self._rewrite_answers(plan, samples.replies)
        step = {**plan.step, **counts}
        update: Update = {
            "step": step,
            "round": step["iteration"],
            "pending": usable,
            **_counted(state, samples, **counts),
            "warnings": _warnings(state, samples, "rewrite"),
        }
        if not samples.replies and samples.last_error is not None:
            update.update(_stage_failed(state, "rewrite", samples))
            update["pending"] = []
        return update

    def rewrite(self, state: TPOState, config: RunnableConfig) -> Update:
        if stop := _timed_out(state):
            return stop
        plan = self._rewrite_plan(state)
        _emit(plan.event, config)
        n = state["settings"]["num_samples"]
        samples = self._draw(state, plan, "rewrite", config, n)
        return self._rewrite_update(state, plan, samples)

    async def arewrite(self, state: TPOState, config: RunnableConfig) -> Update:
        if stop := _timed_out(state):
            return stop
        plan = self._rewrite_plan(state)
        await _aemit(plan.event, config)
        n = state["settings"]["num_samples"]
        samples = await self._adraw(state, plan, "rewrite", config, n)
        return self._rewrite_update(state, plan, samples)

    # -- finish -----------------------------------------------------------------------------

    def _finish_update(self, state: TPOState) -> tuple[Update, dict[str, Any]]:
        best = best_candidate(state.get("candidates", []))
        answer = best["text"] if best else ""
        turns = list(state.get("conversation", []))
        if answer:  # a turn without an answer would leave the thread's next run a dangling query
            turns += [HumanMessage(state["query"]), AIMessage(answer)]
        event = {
            "event": "tpo.end",
            "stop_reason": state.get("stop_reason"),
            "best_score": best["score"] if best else None,
            "iterations": len(state.get("history", [])),
            "error": state.get("error"),
        }
        return {"answer": answer, "score": best["score"] if best else None, "turns": turns}, event

    def finish(self, state: TPOState, config: RunnableConfig) -> Update:
        update, event = self._finish_update(state)
        _emit(event, config)
        return update

    async def afinish(self, state: TPOState, config: RunnableConfig) -> Update:
        update, event = self._finish_update(state)
        await _aemit(event, config)
        return update

    # -- helpers ----------------------------------------------------------------------------

    def _fence(self, state: TPOState, stage: str, iteration: int, texts: Sequence[str]) -> str:
        everything = [
            *texts,
            self._asked_query(state),
            *(m.text for m in state.get("conversation", [])),
        ]
        seed = derive_seed(state["settings"]["seed"], "fence", stage, iteration)
        return fence_line(seed, everything)

    def _params(self, settings: dict[str, Any], stage: str, iteration: int = -1) -> SamplingParams:
        """What a request of this stage asks for: sampling knobs, whether the policy may
        think, and (for samples and rewrites) the answer schema."""
        return SamplingParams(
            temperature=settings["temperature"],
            top_p=settings["top_p"],
            max_tokens=settings["max_tokens"],
            seed=derive_seed(settings["seed"], stage, iteration),
            thinking=stage_thinking(settings, stage),
            thinking_switch=settings.get("thinking_switch") or "enable_thinking",
            thinking_budget=settings.get("thinking_budget"),
            thinking_tags=_tags(settings),
            answer_schema=self.answer_schema if stage in ("sample", "rewrite") else None,
        )

    def _common(self, state: TPOState, chosen: CandidateDict, fence: str) -> dict[str, Any]:
        conversation = list(state.get("conversation", []))
        query = self._asked_query(state)
        return {
            "context": render_context(conversation),
            "query": query,
            "conversation": [*conversation, HumanMessage(query)],
            "chosen": chosen["text"],
            "fenced_chosen": fenced(chosen["text"], fence),
            "fence": fence,
        }


# -- pure helpers -------------------------------------------------------------------------------


def _iteration(plan: _Plan) -> int:
    """The iteration a request belongs to; -1 for the first samples, which have no step."""
    return plan.step.get("iteration", -1)


def _tags(settings: dict[str, Any]) -> tuple[str, str]:
    tags = settings.get("thinking_tags") or DEFAULT_THINKING_TAGS
    return (tags[0], tags[1])


def _pending(state: TPOState) -> list[PendingDict]:
    """The answers waiting for `score` (a plain string is an answer without thinking)."""
    return [
        p if isinstance(p, dict) else {"text": p, "thinking": None}
        for p in state.get("pending", [])
    ]


def _warnings(state: TPOState, samples: Samples, stage: str) -> list[str]:
    """The run's warnings after a request: its failures, and its notes (each once a run)."""
    warnings = [*state.get("warnings", []), *_failure_warnings(samples, stage)]
    warnings += [note for note in samples.notes if note not in warnings]
    return warnings


def _requests(state: TPOState, *, grace: bool = False) -> RequestPolicy:
    """How this run's requests are timed and retried. With `grace`, the run's deadline is
    ignored (scoring the first answers, without which there is nothing to return)."""
    settings = state["settings"]
    deadline = state.get("deadline")
    if grace and not state.get("candidates"):
        deadline = None
    return RequestPolicy(
        timeout_s=settings["request_timeout_s"],
        retries=settings["max_retries"],
        backoff_s=settings["retry_backoff_s"],
        deadline=deadline,
    )


def _timed_out(state: TPOState) -> Update | None:
    deadline = state.get("deadline")
    if deadline is not None and time.time() >= deadline:
        return _timeout(state)
    return None


def _timeout(state: TPOState) -> Update:
    seconds = state["settings"]["timeout_s"]
    return {
        "stop_reason": "timeout",
        "warnings": [
            *state.get("warnings", []),
            f"The run reached its time limit ({seconds:g} s, timeout_s); the best answer so "
            "far is returned.",
        ],
    }


def _stage_failed(
    state: TPOState, stage: str, samples: Samples | None, *, error: BaseException | None = None
) -> Update:
    if _timed_out(state):  # the request was cut short by the run's own deadline
        return _timeout(state)
    error = error if error is not None else (samples.last_error if samples else None)
    attempts = 1 + state["settings"]["max_retries"]
    reason = f"the {stage} stage failed ({attempts} attempt(s) per request): " + (
        describe(error) if error is not None else "no output"
    )
    return {
        "stop_reason": "stage_failed",
        "error": reason,
    }


def _ordered(config: RunnableConfig, state: TPOState) -> RunnableConfig:
    """The request's config with the run's admission number in its metadata."""
    order = state["settings"].get(METADATA_KEY)
    if order is None:  # a run checkpointed before runs were numbered
        return config
    return {**config, "metadata": {**(config.get("metadata") or {}), METADATA_KEY: order}}


def _counted(state: TPOState, samples: Samples, **extra: int) -> Update:
    """The run's counters and token usage after one sampling request."""
    deltas = {
        "model_calls": samples.requests,
        "failures": samples.failures,
        "retries": samples.retries,
        **extra,
    }
    values: dict[str, Any] = dict(state)
    usage = dict(values.get("usage") or {})
    for key, value in samples.usage.items():
        usage[key] = usage.get(key, 0) + value
    return {
        **{name: int(values.get(name) or 0) + delta for name, delta in deltas.items()},
        "usage": usage,
    }


def _candidate(text: str, reward: Reward, iteration: int) -> CandidateDict:
    return {
        "text": text,
        "score": reward.score,
        "iteration": iteration,
        "feedback": reward.feedback,
        "components": dict(reward.components) if reward.components is not None else None,
    }


def _format(prompt: Any, variables: dict[str, Any]) -> list[BaseMessage]:
    wanted = set(prompt.input_variables) | set(prompt.optional_variables)
    return list(prompt.format_messages(**{k: v for k, v in variables.items() if k in wanted}))


def _text_update(state: TPOState, plan: _Plan, key: str, samples: Samples) -> Update:
    """The state after a single-text stage (critique, suggestion)."""
    stage = "critique" if key == "critique" else "suggest"
    warnings = [*_warnings(state, samples, key), *plan.warnings]
    step: dict[str, Any] = dict(plan.step)
    reply = samples.replies[0] if samples.replies else None
    if plan.messages is not None:
        step[key] = reply.answer.strip() if reply else ""
    cut = int(reply is not None and reply.cut_in_thinking)
    update: Update = {
        "step": step,
        **_counted(state, samples, thinking_cutoffs=cut),
        "warnings": warnings,
    }
    if plan.messages is not None and not samples.replies and samples.last_error is not None:
        update.update(_stage_failed(state, stage, samples))
    elif cut:
        warnings.append(
            f"Iteration {step['iteration']}: the {key} request ran out of tokens while the "
            f"policy was thinking, so there is no {key}; raise max_tokens or thinking_budget, "
            f"or leave {stage} out of thinking_stages."
        )
    elif not step.get(key):
        warnings.append(f"Iteration {step['iteration']}: the {key} came back empty.")
    return update


def _failure_warnings(samples: Samples, stage: str) -> list[str]:
    return [f"A {stage} request failed and was skipped: {e}" for e in samples.errors]


def _stop_reason(
    settings: dict[str, Any],
    cache: Sequence[CandidateDict],
    iterations_done: int,
    best_scores: Sequence[float],
    deadline: float | None,
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
    if deadline is not None and time.time() >= deadline:
        return "timeout"
    return None


def _emit(event: dict[str, Any], config: RunnableConfig) -> None:
    """Send a progress event to LangGraph's custom stream and to the callbacks."""
    get_stream_writer()(event)
    dispatch_custom_event(event["event"], event, config=config)


async def _aemit(event: dict[str, Any], config: RunnableConfig) -> None:
    get_stream_writer()(event)
    await adispatch_custom_event(event["event"], event, config=config)


__all__ = ["TPOInputError", "TPONodes", "fresh_run"]
