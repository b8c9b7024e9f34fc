"""TPOChatModel: TPO behind the chat-model interface, for code that expects a chat model."""

from __future__ import annotations

import contextvars
import json
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, Literal, Self
from uuid import UUID

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    BaseCallbackHandler,
    CallbackManager,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    OutputTokenDetails,
    UsageMetadata,
)
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableConfig, RunnableMap, RunnablePassthrough
from langchain_core.runnables.config import ensure_config, var_child_runnable_config
from langchain_core.utils.function_calling import convert_to_json_schema, convert_to_openai_tool
from langchain_core.utils.uuid import uuid7
from pydantic import BaseModel, ConfigDict, model_validator

from langchain_tpo.agents.conversation import tpo_input
from langchain_tpo.chain import TPOChain
from langchain_tpo.config import TPOConfig
from langchain_tpo.graph import create_tpo_graph
from langchain_tpo.model_run_visibility import tracers_see_model_runs
from langchain_tpo.state import TPOResult
from langchain_tpo.structured import AnswerSchema, Method

# Call keyword arguments that set TPOConfig fields under another (standard) name.
_ALIASES = {"timeout": "timeout_s"}
# Keyword arguments of `bind_tools` that belong to the policy's tool binding.
_TOOL_OPTIONS = ("tool_choice", "parallel_tool_calls", "strict", "response_format")
# LangGraph's tag for runs whose tokens a graph's "messages" stream leaves out: TPO's own
# policy calls are internal steps, not the answer.
_NOSTREAM = "nostream"


class TPOChatModel(BaseChatModel):
    """A chat model whose every reply is the best answer TPO found.

    Drop it in wherever a `BaseChatModel` is expected: a prompt pipe, a LangGraph node, a
    chatbot, an agent. The conversation's last human message is the query; earlier turns are
    context (tool calls and tool results rendered as text, see `langchain_tpo.agents`).

    Setup:
        ```python
        from langchain_tpo import TPOChain, TPOChatModel, TPOConfig

        model = TPOChatModel(
            chain=TPOChain(policy=policy, reward=reward, config=TPOConfig(num_samples=4)),
            max_tokens=256,  # standard parameters become TPOConfig overrides
        )
        ```

    Invoke:
        ```python
        reply = model.invoke([("system", "Be kind."), ("human", "Rate my poem: ...")])
        reply.content  # the best answer
        reply.response_metadata["tpo_score"]  # its reward
        reply.response_metadata["tpo_best_scores"]  # best reward after samples, per iteration
        reply.usage_metadata  # tokens of every policy request of the run, summed
        ```

    Per-call settings: any `TPOConfig` field through the runnable config or as a keyword
    argument (bound or per call), e.g. `model.invoke(q, config={"configurable":
    {"num_samples": 4, "max_iterations": 2}})`, `model.bind(temperature=0.2)`,
    `model.invoke(q, max_tokens=64)`; `timeout` sets `timeout_s`. Precedence: the chain's
    config, then this model's fields, then keyword arguments, then `configurable`. Other
    keyword arguments go to the policy (`model=...` for a server with several models).
    `drafts=[...]` seeds TPO's cache with answers of your own.

    Tool calling: `model.bind_tools(tools)` binds the tools on the policy (so the policy
    must support tool calling). Each call, the policy with tools answers the conversation once,
    with its own settings; a reply that calls tools is returned as it is (a tool call is not an
    answer to refine); a final answer seeds TPO's cache as a draft, and TPO, running on the
    policy without tools, refines it with the whole conversation as context. This is what
    `create_agent` and `create_react_agent` do with a model. An agent's `response_format`
    answer is a tool call and passes through.

    Structured output: `model.with_structured_output(Person)` runs TPO over the schema: samples
    and rewrites are asked for in it through the policy's own structured output, every one is
    validated (the invalid ones are counted, not scored), the reward scores each object's JSON
    text, and the best object is returned (`include_raw=True` gives `{"raw", "parsed",
    "parsing_error"}` as LangChain defines it). Pass an `AnswerSchema` to give the reward a
    rendering of the object instead of its JSON.

    Reasoning policies: the reply is the best answer without its thinking; the thinking of
    every candidate is in `tpo_result` (`return_full_result=True`), and `usage_metadata` has
    the thinking tokens in `output_token_details["reasoning"]` where the policy reports them.

    Streaming: `stream`/`astream` yield the answer as `AIMessageChunk`s once TPO is done;
    while it runs, each progress event of the loop (`tpo.stage`, `tpo.progress`) is a callback
    custom event (`astream_events` shows them) and, inside a LangGraph node, a `custom`
    stream item of that graph.

    Stop sequences cut the chosen answer at the first one found, after it has been scored:
    the search itself is unchanged. Callbacks reach the TPO graph, nested under this model's
    run; its policy calls are tagged `nostream`, so a graph's `messages` stream shows only
    the answer.
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    chain: TPOChain
    """The TPO chain that answers (policy, reward model, default settings, prompts)."""
    temperature: float | None = None
    """Sampling temperature of every policy request; None: the chain's setting."""
    top_p: float | None = None
    """Nucleus sampling mass; None: the chain's setting."""
    max_tokens: int | None = None
    """Token limit of every policy request; None: the chain's setting."""
    seed: int | None = None
    """Base seed of a run; None: the chain's setting."""
    timeout: float | None = None
    """Seconds a whole TPO run may take (`TPOConfig.timeout_s`); None: the chain's setting."""
    max_retries: int | None = None
    """Retries of a failed policy or reward request; None: the chain's setting."""
    stop: list[str] | None = None
    """Stop sequences that cut the chosen answer (after scoring)."""
    streaming: bool = False
    """Route `invoke` through `stream` (LangChain's standard flag)."""
    policy_runs_seen_by: Literal["tracers", "all"] = "tracers"
    """Which callback handlers see TPO's policy requests as chat-model runs of their own.
    "tracers": LangSmith and other tracers see the whole tree; every other handler sees this
    call as one chat-model run (whose usage sums the policy's), as LangChain's chat-model
    contract expects, with TPO's progress events and chain runs still reaching it. "all":
    every handler sees every policy request too (its tokens then count twice in a counter
    that also reads this model's usage)."""
    return_full_result: bool = False
    """Put the whole `TPOResult` (every candidate, critique and suggestion) into
    `response_metadata["tpo_result"]` as a dict; off by default, since agents keep every
    message in their state."""

    @model_validator(mode="after")
    def _check_settings(self) -> Self:
        # Bad values fail here, not at the first call.
        self.chain.config.with_overrides(self._field_overrides())
        return self

    @property
    def _llm_type(self) -> str:
        return "tpo-chat"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "policy": _model_name(self.chain.policy),
            "reward": self.chain.reward.get_name(),
            **self.chain.config.with_overrides(self._field_overrides()).model_dump(),
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        settings = self._settings(_split(kwargs).overrides)
        params = LangSmithParams(
            ls_provider="tpo",
            ls_model_name=kwargs.get("model") or _model_name(self.chain.policy),
            ls_model_type="chat",
        )
        if settings.temperature is not None:
            params["ls_temperature"] = settings.temperature
        if settings.max_tokens is not None:
            params["ls_max_tokens"] = settings.max_tokens
        if stop or self.stop:
            params["ls_stop"] = stop or self.stop
        return params

    # -- per-call settings ------------------------------------------------------------------

    def _field_overrides(self) -> dict[str, Any]:
        values = {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "timeout_s": self.timeout,
            "max_retries": self.max_retries,
        }
        return {k: v for k, v in values.items() if v is not None}

    def _settings(self, overrides: dict[str, Any]) -> TPOConfig:
        return self.chain.config.with_overrides({**self._field_overrides(), **overrides})

    # The runnable config never reaches `_generate`: read `configurable` here and pass its
    # TPOConfig fields on as keyword arguments. And `_stream` gets no run manager from
    # LangChain: it finds the run (fixed here through `run_id`) in a context variable.

    def invoke(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AIMessage:
        config, parent = _with_run_id(config)
        with _stream_parent(parent):
            return super().invoke(input, config, stop=stop, **_with_configurable(config, kwargs))

    async def ainvoke(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AIMessage:
        config, parent = _with_run_id(config)
        with _stream_parent(parent):
            return await super().ainvoke(
                input, config, stop=stop, **_with_configurable(config, kwargs)
            )

    def stream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> Iterator[AIMessageChunk]:
        config, parent = _with_run_id(config)
        chunks = super().stream(input, config, stop=stop, **_with_configurable(config, kwargs))
        # The run starts (and `_stream` reads the variable) within the first step; the
        # variable is not left set while the caller holds a chunk.
        with _stream_parent(parent):
            first = next(chunks, None)
        if first is not None:
            yield first
            yield from chunks

    async def astream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[AIMessageChunk]:
        config, parent = _with_run_id(config)
        chunks = super().astream(input, config, stop=stop, **_with_configurable(config, kwargs))
        with _stream_parent(parent):
            first = await anext(chunks, None)
        if first is not None:
            yield first
            async for chunk in chunks:
                yield chunk

    def stream_events(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        if kwargs.get("version") == "v3":
            kwargs = _with_configurable(config, kwargs)
        return super().stream_events(input, config, **kwargs)

    def astream_events(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Any:
        if kwargs.get("version") == "v3":
            kwargs = _with_configurable(config, kwargs)
        return super().astream_events(input, config, **kwargs)

    # -- tools ------------------------------------------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | Any],
        *,
        tool_choice: str | dict[str, Any] | bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools on the policy: tool calls pass through, final answers go through TPO.

        Args:
            tools: Tools in any form `convert_to_openai_tool` reads (BaseTool, function,
                pydantic model, JSON schema dict).
            tool_choice: Passed to the policy's `bind_tools` (`"any"`, a tool name, ...).
            **kwargs: Further options of the policy's `bind_tools` (`parallel_tool_calls`,
                `strict`, ...).

        Returns:
            This model bound to the tools.

        Raises:
            NotImplementedError: The policy cannot call tools.
        """
        policy = self.chain.policy
        if not isinstance(policy, BaseChatModel) or (
            type(policy).bind_tools is BaseChatModel.bind_tools
        ):
            msg = (
                f"The policy {type(policy).__name__} cannot call tools (it has no bind_tools), "
                "so TPOChatModel cannot either. Give the TPOChain a policy with tool calling "
                "(ChatOpenAI against a vLLM server started with --enable-auto-tool-choice, "
                "for instance), or keep your tool-calling model in the agent and refine its "
                "final answer with langchain_tpo.agents.TPOMiddleware."
            )
            raise NotImplementedError(msg)
        options = {k: v for k, v in {"tool_choice": tool_choice, **kwargs}.items() if v is not None}
        structured = options.pop("ls_structured_output_format", None)
        extra = {"ls_structured_output_format": structured} if structured else {}
        formatted = [convert_to_openai_tool(t) for t in tools]
        return self.bind(tools=formatted, tool_options=options, **extra)

    def with_structured_output(
        self,
        schema: Any,
        *,
        include_raw: bool = False,
        method: Method = "json_schema",
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, Any]:
        """TPO over a schema: the best valid object TPO found.

        Args:
            schema: A pydantic model class, a TypedDict class, a JSON schema dict, or an
                `AnswerSchema` (which also says how to ask and what the reward reads; `method`
                and `strict` are then its own).
            include_raw: Return `{"raw": AIMessage, "parsed": object | None,
                "parsing_error": Exception | None}` instead of the object.
            method: How the policy is asked for the schema: `json_schema` (its structured
                output, constrained where it can be), `json_mode` or `function_calling` (a
                forced tool call).
            strict: The `strict` flag of OpenAI-style schemas and tools; None leaves it out.
            **kwargs: Not taken (raises).

        Returns:
            A Runnable whose output is the validated object (a pydantic instance for a pydantic
            model, else a dict), or the include_raw dict.

        Raises:
            ValueError: An unknown argument or method, or a schema TPO cannot read.
        """
        if kwargs:
            msg = f"TPOChatModel.with_structured_output does not take {sorted(kwargs)}."
            raise ValueError(msg)
        spec = (
            schema
            if isinstance(schema, AnswerSchema)
            else AnswerSchema(schema, method=method, strict=strict)
        )
        structured = self.model_copy(update={"chain": self.chain.with_answer_schema(spec)})
        llm = structured.bind(
            ls_structured_output_format={
                "kwargs": {"method": spec.method, "strict": spec.strict},
                "schema": convert_to_json_schema(spec.schema),
            }
        )
        parser: Runnable[Any, Any] = (
            PydanticOutputParser(pydantic_object=spec.schema)
            if _is_model_class(spec.schema)
            else JsonOutputParser()
        )
        if not include_raw:
            return llm | parser
        parse = RunnablePassthrough.assign(
            parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
        )
        unparsed = RunnablePassthrough.assign(parsed=lambda _: None)
        return RunnableMap(raw=llm) | parse.with_fallbacks(
            [unparsed], exception_key="parsing_error"
        )

    # -- generation -------------------------------------------------------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        call = _split(kwargs)
        run = _Run(self, call, _Parent.of(run_manager))
        draft = None
        if call.tools:
            draft = self._tool_policy(call).invoke(messages, run.child_config())
            if _calls_tools(draft):
                return ChatResult(generations=[ChatGeneration(message=draft)])
        result = run.tpo(messages, draft)
        message = self._answer(result, call, stop, draft)
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        call = _split(kwargs)
        run = _Run(self, call, _Parent.of(run_manager))
        draft = None
        if call.tools:
            draft = await self._tool_policy(call).ainvoke(messages, run.child_config())
            if _calls_tools(draft):
                return ChatResult(generations=[ChatGeneration(message=draft)])
        result = await run.atpo(messages, draft)
        message = self._answer(result, call, stop, draft)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        # TPO gives no text before it is done: the answer comes as one chunk. (LangChain
        # reports the chunk to the callbacks itself.)
        yield _as_chunk(self._generate(messages, stop, run_manager, **kwargs).generations[0])

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        result = await self._agenerate(messages, stop, run_manager, **kwargs)
        yield _as_chunk(result.generations[0])

    def _tool_policy(self, call: _Call) -> Runnable[Any, AIMessage]:
        """The policy with the tools bound. It answers with its own settings: TPO's limits
        (such as a few tokens per rewrite) are for TPO's texts, and would cut a tool call."""
        policy = self.chain.policy
        assert isinstance(policy, BaseChatModel)  # bind_tools checked it
        bound = policy.bind_tools(call.tools or [], **call.tool_options)
        return bound.bind(**call.policy_kwargs) if call.policy_kwargs else bound

    def _answer(
        self,
        result: TPOResult,
        call: _Call,
        stop: list[str] | None,
        draft: AIMessage | None,
    ) -> AIMessage:
        usage = dict(result.usage)
        if draft is not None and draft.usage_metadata:
            drafted = draft.usage_metadata
            usage["input_tokens"] = usage.get("input_tokens", 0) + drafted["input_tokens"]
            usage["output_tokens"] = usage.get("output_tokens", 0) + drafted["output_tokens"]
            usage["total_tokens"] = usage.get("total_tokens", 0) + drafted["total_tokens"]
        metadata: dict[str, Any] = {
            "model_name": call.policy_kwargs.get("model") or _model_name(self.chain.policy),
            "tpo_score": result.score,
            "tpo_best_scores": list(result.best_scores),
            "tpo_iterations": result.iterations,
            "tpo_stop_reason": result.stop_reason,
            "tpo_model_calls": result.model_calls + (1 if draft is not None else 0),
        }
        if self.return_full_result:
            metadata["tpo_result"] = result.model_dump(mode="json")
        content = result.response
        if self.chain.answer_schema is None:  # a cut object would no longer parse
            content = _cut_at_stop(content, stop if stop is not None else self.stop)
        return AIMessage(
            content=content,
            response_metadata=metadata,
            usage_metadata=_usage(usage),
        )


# -- one call -------------------------------------------------------------------------------


@dataclass
class _Call:
    """A call's keyword arguments, sorted by where they go."""

    overrides: dict[str, Any] = field(default_factory=dict)
    """TPOConfig fields."""
    drafts: list[str] = field(default_factory=list)
    tools: list[dict[str, Any]] | None = None
    tool_options: dict[str, Any] = field(default_factory=dict)
    policy_kwargs: dict[str, Any] = field(default_factory=dict)
    """Everything else: passed to every policy request."""


def _split(kwargs: dict[str, Any]) -> _Call:
    call = _Call()
    for key, value in kwargs.items():
        name = _ALIASES.get(key, key)
        if name in TPOConfig.model_fields:
            if value is not None:
                call.overrides[name] = value
        elif key == "drafts":
            if isinstance(value, str) or not all(isinstance(d, str) for d in value or []):
                msg = "drafts must be a list of strings (answers to seed TPO's cache with)."
                raise TypeError(msg)
            call.drafts = list(value or [])
        elif key == "tools":
            call.tools = list(value) if value else None
        elif key == "tool_options":
            call.tool_options.update(value or {})
        elif key in _TOOL_OPTIONS:
            if value is not None:
                call.tool_options[key] = value
        elif key != "stream":
            call.policy_kwargs[key] = value
    return call


def _with_configurable(config: RunnableConfig | None, kwargs: dict[str, Any]) -> dict[str, Any]:
    configurable = ensure_config(config).get("configurable") or {}
    picked = {k: v for k, v in configurable.items() if k in TPOConfig.model_fields}
    return {**kwargs, **picked} if picked else kwargs


@dataclass
class _Parent:
    """The model run TPO's runs nest under: its id and what its children inherit."""

    run_id: UUID | None = None
    handlers: list[BaseCallbackHandler] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls, run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None
    ) -> _Parent:
        if run_manager is None:
            return _STREAM_PARENT.get() or cls()
        return cls.inheriting(run_manager.run_id, run_manager)

    @classmethod
    def inheriting(
        cls,
        run_id: UUID,
        manager: CallbackManager | CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun,
    ) -> _Parent:
        """The run `run_id`, whose children inherit what `manager` passes on."""
        return cls(
            run_id,
            list(manager.inheritable_handlers),
            list(manager.inheritable_tags),
            dict(manager.inheritable_metadata),
        )


_STREAM_PARENT: ContextVar[_Parent | None] = ContextVar("tpo_chat_model_run", default=None)


@contextmanager
def _stream_parent(parent: _Parent) -> Iterator[None]:
    """Make `parent` the run `_stream` finds, for the duration of the block."""
    token = _STREAM_PARENT.set(parent)
    try:
        yield
    finally:
        _STREAM_PARENT.reset(token)


def _with_run_id(config: RunnableConfig | None) -> tuple[RunnableConfig, _Parent]:
    """The config with its run id fixed, and the run it describes."""
    config = ensure_config(config)
    run_id = config.get("run_id") or uuid7()
    config = {**config, "run_id": run_id}
    manager = CallbackManager.configure(
        config.get("callbacks"), None, False, config.get("tags"), None, config.get("metadata")
    )
    return config, _Parent.inheriting(run_id, manager)


class _Run:
    """One TPO run of a call: the graph, its config, and its progress passed to an enclosing
    graph's `custom` stream (the graph dispatches the callback events itself)."""

    def __init__(self, model: TPOChatModel, call: _Call, parent: _Parent) -> None:
        self.model = model
        self.call = call
        self.parent = parent
        self.callbacks = _child_callbacks(parent, model.policy_runs_seen_by == "all")
        self.writer = _parent_stream_writer()

    def child_config(self) -> RunnableConfig:
        return {"callbacks": self.callbacks}

    def _graph_and_config(self, messages: list[BaseMessage], draft: AIMessage | None) -> Any:
        chain = self.model.chain
        overrides = {**self.model._field_overrides(), **self.call.overrides}
        drafts = [*self.call.drafts, *([draft.text] if draft is not None else [])]
        graph_input = tpo_input(messages, drafts)
        if self.call.policy_kwargs:
            policy: Any = chain.policy.bind(**self.call.policy_kwargs)
            graph = create_tpo_graph(
                policy,
                chain.reward,
                chain.config,
                prompts=chain.prompts,
                answer_schema=chain.answer_schema,
            )
        else:
            graph = chain.graph
        # A fresh `configurable` (TPO's settings only) keeps the graph a run of its own, not a
        # subgraph of a graph this model may be called in (with that graph's checkpointer).
        config = chain.run_config({"callbacks": self.callbacks, "configurable": overrides})
        return graph, graph_input, config

    def tpo(self, messages: list[BaseMessage], draft: AIMessage | None) -> TPOResult:
        graph, graph_input, config = self._graph_and_config(messages, draft)
        last: dict[str, Any] | None = None
        caller = contextvars.copy_context()  # the enclosing graph's writer reads its config
        with _own_config_only():
            for mode, item in graph.stream(graph_input, config, stream_mode=["custom", "values"]):
                if mode == "values":
                    last = item
                elif self.writer is not None:
                    caller.run(self.writer, item)
        return self.model.chain.result(last or graph_input)

    async def atpo(self, messages: list[BaseMessage], draft: AIMessage | None) -> TPOResult:
        graph, graph_input, config = self._graph_and_config(messages, draft)
        last: dict[str, Any] | None = None
        caller = contextvars.copy_context()
        with _own_config_only():
            async for mode, item in graph.astream(
                graph_input, config, stream_mode=["custom", "values"]
            ):
                if mode == "values":
                    last = item
                elif self.writer is not None:
                    caller.run(self.writer, item)
        return self.model.chain.result(last or graph_input)


@contextmanager
def _own_config_only() -> Iterator[None]:
    """Run the graph on the config it is given alone. Inside a Runnable sequence the caller's
    child config sits in a context variable, and LangGraph merges its callbacks with the
    graph's: the caller's handlers would then see every policy request after all."""
    token = var_child_runnable_config.set(None)
    try:
        yield
    finally:
        var_child_runnable_config.reset(token)


def _child_callbacks(parent: _Parent, all_see_model_runs: bool) -> CallbackManager:
    # LLM run managers have no get_child(); this is what chain run managers do in it.
    manager = CallbackManager(handlers=[], parent_run_id=parent.run_id)
    handlers = parent.handlers if all_see_model_runs else tracers_see_model_runs(parent.handlers)
    manager.set_handlers(handlers)
    manager.add_tags(parent.tags)
    manager.add_metadata(parent.metadata)
    manager.add_tags([_NOSTREAM])
    return manager


def _parent_stream_writer() -> Callable[[Any], None] | None:
    """The `custom` stream writer of the LangGraph node this call runs in, if any."""
    try:
        from langgraph.config import get_stream_writer

        return get_stream_writer()
    except (RuntimeError, KeyError):  # not inside a graph node
        return None


# -- messages -------------------------------------------------------------------------------


def _calls_tools(message: AIMessage) -> bool:
    return bool(message.tool_calls or message.invalid_tool_calls)


def _model_name(policy: Any) -> str:
    try:
        name = policy._get_ls_params().get("ls_model_name")
    except Exception:  # a policy whose tracing params need a call's arguments
        name = None
    for attr in ("model_name", "model", "model_id"):
        if name:
            break
        value = getattr(policy, attr, None)
        name = value if isinstance(value, str) else None
    return str(name or policy.get_name())


def _usage(usage: dict[str, int]) -> UsageMetadata | None:
    if not usage:
        return None
    metadata = UsageMetadata(
        input_tokens=int(usage.get("input_tokens", 0)),
        output_tokens=int(usage.get("output_tokens", 0)),
        total_tokens=int(usage.get("total_tokens", 0)),
    )
    if "reasoning_tokens" in usage:
        metadata["output_token_details"] = OutputTokenDetails(
            reasoning=int(usage["reasoning_tokens"])
        )
    return metadata


def _is_model_class(schema: Any) -> bool:
    """A pydantic model class (v2, or v1 as `pydantic.v1` keeps it)."""
    if not isinstance(schema, type):
        return False
    from pydantic import v1

    return issubclass(schema, BaseModel | v1.BaseModel)


def _cut_at_stop(text: str, stop: list[str] | None) -> str:
    cuts = [text.find(word) for word in stop or [] if word and word in text]
    return text[: min(cuts)] if cuts else text


def _as_chunk(generation: ChatGeneration) -> ChatGenerationChunk:
    """A finished reply as the single, last chunk of a stream (tool calls included)."""
    message = generation.message
    assert isinstance(message, AIMessage)
    calls = [
        tool_call_chunk(
            name=call["name"], args=json.dumps(call["args"]), id=call.get("id"), index=i
        )
        for i, call in enumerate(message.tool_calls)
    ]
    calls += [
        tool_call_chunk(name=bad.get("name"), args=bad.get("args"), id=bad.get("id"), index=i)
        for i, bad in enumerate(message.invalid_tool_calls, start=len(calls))
    ]
    position: Literal["last"] = "last"
    chunk = AIMessageChunk(
        content=message.content,
        tool_call_chunks=calls,
        usage_metadata=message.usage_metadata,
        response_metadata=message.response_metadata,
        additional_kwargs=message.additional_kwargs,
        chunk_position=position,
    )
    return ChatGenerationChunk(message=chunk)
