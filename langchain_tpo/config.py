"""TPOConfig: the knobs of one TPO run, validated with errors that say what is allowed."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

Mode = Literal["tpo", "revision", "bon"]
Stage = Literal["sample", "critique", "suggest", "rewrite"]
STAGES: tuple[Stage, ...] = ("sample", "critique", "suggest", "rewrite")
"""The steps of the loop that send requests to the policy."""
ThinkingSwitch = Literal["enable_thinking", "thinking", "reasoning_effort"]
DEFAULT_THINKING_TAGS = ("<think>", "</think>")

MAX_SAMPLES = 1024
MAX_ITERATIONS = 100


def _check_range(name: str, value: float, low: float, high: float, what: str) -> None:
    if not (low <= value <= high):
        msg = f"{name} must be between {low} and {high} ({what}); got {value!r}."
        raise ValueError(msg)


class TPOConfig(BaseModel):
    """Settings of a TPO run.

    Every field can also be overridden for a single call through the runnable config:
    `chain.invoke(query, config={"configurable": {"num_samples": 3, "max_iterations": 1}})`.

    Example:
        ```python
        from langchain_tpo import TPOConfig

        config = TPOConfig(num_samples=5, max_iterations=2, mode="tpo", target_score=3.0)
        ```
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_default=True, use_attribute_docstrings=True
    )

    num_samples: int = 5
    """N: responses sampled at the start and rewrites produced in each iteration."""
    max_iterations: int = 2
    """D: how many critique -> suggest -> rewrite rounds to run at most."""
    mode: Mode = "tpo"
    """`tpo` (chosen vs rejected), `revision` (chosen only), or `bon` (best of N, no loop)."""
    temperature: float | None = 0.7
    """Sampling temperature for every policy call; None leaves the model's own setting."""
    top_p: float | None = 0.95
    """Nucleus sampling mass; None leaves the model's own setting."""
    max_tokens: int | None = None
    """Token limit per generated text; None leaves the model's own setting."""
    seed: int | None = None
    """Base seed. Each request derives a distinct seed from it; None draws a random base."""
    target_score: float | None = None
    """Stop as soon as the best reward in the cache reaches this value."""
    patience: int | None = None
    """Stop once the best reward has not improved for this many iterations in a row."""
    request_timeout_s: float | None = 600.0
    """Seconds one policy or reward request may take before it counts as failed; None: no limit."""
    timeout_s: float | None = None
    """Seconds the whole run may take; then the best answer so far is returned
    (`stop_reason="timeout"`). None: no limit."""
    max_retries: int = 2
    """Times a failed policy or reward request is tried again before its stage counts as
    failed (permanent errors, such as a prompt too long for the model, are not retried)."""
    retry_backoff_s: float = 1.0
    """Seconds to wait before the first retry; doubled for each further one (at most 30 s)."""
    thinking_stages: tuple[Stage, ...] | None = None
    """Stages where a reasoning policy may think before it answers ("sample", "critique",
    "suggest", "rewrite"); in the others it is asked not to. None asks nothing: every request
    keeps the model's own setting. How the request says it: `thinking_switch`."""
    thinking_switch: ThinkingSwitch = "enable_thinking"
    """How a stage's thinking setting reaches the policy: the chat template's
    `enable_thinking` (Qwen3, SmolLM3, GLM) or `thinking` (DeepSeek-V3.1, Granite) variable,
    through `chat_template_kwargs` (in-process vLLM and transformers, and servers such as
    `vllm serve` through `extra_body`); or `reasoning_effort` ("none" where thinking is off)
    for servers that take one."""
    thinking_budget: int | None = None
    """Tokens a reply may spend thinking, on top of `max_tokens` (the run's, else the model's
    own, which stays the answer's), wherever the policy may think. Sent as vLLM's
    `thinking_token_budget` (in-process `ChatVLLM` and servers; the engine needs a reasoning
    parser or config); other backends only get the larger `max_tokens`. None: no separate
    budget."""
    thinking_tags: tuple[str, str] = DEFAULT_THINKING_TAGS
    """The tags around thinking written into the reply text. A reply that starts with the
    opening tag, or has a closing tag its template opened, is split there; thinking in
    `reasoning_content` or reasoning content blocks needs no tags. An empty opening tag,
    `("", "</think>")`, says the chat template opens the block (DeepSeek-R1 distillations):
    a reply is thinking until the closing tag, and one that never reaches it was cut inside
    its thinking (except in stages asked not to think)."""

    @field_validator("num_samples")
    @classmethod
    def _num_samples(cls, v: int) -> int:
        _check_range("num_samples", v, 1, MAX_SAMPLES, "samples per round, N")
        return v

    @field_validator("max_iterations")
    @classmethod
    def _max_iterations(cls, v: int) -> int:
        _check_range("max_iterations", v, 0, MAX_ITERATIONS, "TPO iterations, D")
        return v

    @field_validator("temperature")
    @classmethod
    def _temperature(cls, v: float | None) -> float | None:
        if v is not None:
            _check_range("temperature", v, 0.0, 2.0, "sampling temperature")
        return v

    @field_validator("top_p")
    @classmethod
    def _top_p(cls, v: float | None) -> float | None:
        if v is not None and not (0.0 < v <= 1.0):
            msg = f"top_p must be greater than 0 and at most 1 (nucleus mass); got {v!r}."
            raise ValueError(msg)
        return v

    @field_validator("max_tokens")
    @classmethod
    def _max_tokens(cls, v: int | None) -> int | None:
        if v is not None:
            _check_range("max_tokens", v, 1, 1_000_000, "tokens per generated text")
        return v

    @field_validator("seed")
    @classmethod
    def _seed(cls, v: int | None) -> int | None:
        if v is not None:
            _check_range("seed", v, 0, 2**31 - 1, "a non-negative 31-bit integer")
        return v

    @field_validator("target_score")
    @classmethod
    def _target_score(cls, v: float | None) -> float | None:
        if v is not None and not math.isfinite(v):
            msg = f"target_score must be a finite number or None; got {v!r}."
            raise ValueError(msg)
        return v

    @field_validator("request_timeout_s", "timeout_s")
    @classmethod
    def _timeouts(cls, v: float | None, info: Any) -> float | None:
        if v is not None and not (math.isfinite(v) and v > 0):
            msg = f"{info.field_name} must be a positive number of seconds or None; got {v!r}."
            raise ValueError(msg)
        return v

    @field_validator("retry_backoff_s")
    @classmethod
    def _backoff(cls, v: float) -> float:
        _check_range("retry_backoff_s", v, 0.0, 60.0, "seconds before the first retry")
        return v

    @field_validator("max_retries")
    @classmethod
    def _max_retries(cls, v: int) -> int:
        _check_range("max_retries", v, 0, 20, "retries of a failed request")
        return v

    @field_validator("patience")
    @classmethod
    def _patience(cls, v: int | None) -> int | None:
        if v is not None:
            _check_range("patience", v, 1, MAX_ITERATIONS, "iterations without improvement")
        return v

    @field_validator("thinking_stages", mode="before")
    @classmethod
    def _thinking_stages(cls, v: Any) -> Any:
        if v is None:
            return None
        names = [part.strip() for part in v.split(",")] if isinstance(v, str) else v
        if not isinstance(names, list | tuple | set | frozenset):
            msg = (
                "thinking_stages must be a list of stage names (any of "
                f"{', '.join(STAGES)}) or None; got {v!r}."
            )
            raise ValueError(msg)
        unknown = [n for n in names if n not in STAGES]
        if unknown:
            msg = (
                f"thinking_stages takes the stages {', '.join(STAGES)}; {unknown} "
                "is not one of them. Use () to ask for no thinking anywhere, None to ask nothing."
            )
            raise ValueError(msg)
        return tuple(n for n in STAGES if n in names)

    @field_validator("thinking_budget")
    @classmethod
    def _thinking_budget(cls, v: int | None) -> int | None:
        if v is not None:
            _check_range("thinking_budget", v, 1, 1_000_000, "thinking tokens per reply")
        return v

    @field_validator("thinking_tags")
    @classmethod
    def _thinking_tags(cls, v: tuple[str, str]) -> tuple[str, str]:
        start, end = v
        if (start and not start.strip()) or not end.strip() or start == end:
            msg = (
                "thinking_tags must be an opening and a closing tag, such as "
                '("<think>", "</think>"), the closing one non-blank (an empty opening tag: the '
                f"chat template opens the block); got {v!r}."
            )
            raise ValueError(msg)
        return v

    @model_validator(mode="after")
    def _tpo_needs_a_pair(self) -> Self:
        if self.mode == "tpo" and self.num_samples < 2 and self.max_iterations > 0:
            msg = (
                "num_samples must be at least 2 in mode 'tpo' (the critique compares a chosen and "
                "a rejected response); use mode='revision' to refine a single sample."
            )
            raise ValueError(msg)
        return self

    def with_overrides(self, *overrides: Mapping[str, Any] | BaseModel | None) -> TPOConfig:
        """Return a copy with the TPOConfig fields found in `overrides` replaced (validated).

        Later overrides win. Keys that are not TPOConfig fields (such as `thread_id`) are
        ignored, and so are None values of a run context (`TPOContext`), so the whole
        `configurable` dict of a runnable config or a run context can be passed.
        """
        update: dict[str, Any] = {}
        for given in overrides:
            if isinstance(given, BaseModel):
                values = {k: v for k, v in given.model_dump().items() if v is not None}
            else:
                values = dict(given or {})
            update.update({k: v for k, v in values.items() if k in type(self).model_fields})
        if not update:
            return self
        return type(self).model_validate({**self.model_dump(), **update})


def _context_fields() -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, info in TPOConfig.model_fields.items():
        annotation = info.annotation | None  # type: ignore[operator]
        fields[name] = (annotation, Field(default=None, description=info.description))
    return fields


TPOContext: type[BaseModel] = create_model(
    "TPOContext",
    __config__=ConfigDict(extra="forbid"),
    __doc__="Settings of one TPO run, each overriding the graph's TPOConfig when not None.\n\n"
    'Pass it as the run context: `graph.invoke(input, context={"num_samples": 3})`, or set it '
    "in LangGraph Studio / an assistant's context. Fields left None keep the graph's value.",
    **_context_fields(),
)
"""The graph's context schema: every TPOConfig field, optional, with its description."""
