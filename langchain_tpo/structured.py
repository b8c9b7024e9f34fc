"""TPO over a schema: answers asked for, validated and returned as objects.

`AnswerSchema` says what an answer must be (a pydantic model, a TypedDict or a JSON schema),
how the policy is asked for it (`method`), and what the reward reads (the object's JSON text,
or the user's `render`). With one, every sample and rewrite is requested in the schema through
the policy's own structured output:

- `json_schema` (default): in-process vLLM (`ChatVLLM`) gets structured outputs (guided
  decoding), an OpenAI-compatible server (`ChatOpenAI`) a json_schema `response_format`, any
  other policy that binds tools a forced tool call, and the rest the schema in the prompt only;
- `json_mode`: the same, for any JSON object (the schema is in the prompt);
- `function_calling`: the policy's own `bind_tools`, the schema's tool forced (required).

Every reply is then read (a tool call's arguments, else the answer text), parsed and validated;
one that does not fit is counted (`invalid_outputs`) and not scored. A valid one enters the
cache as its canonical JSON text, which the critique and suggestion prompts show. The query
every prompt carries ends with the schema, so critiques and suggestions talk about the object.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import RunnableBinding
from langchain_core.utils.function_calling import convert_to_json_schema, convert_to_openai_tool
from pydantic import BaseModel

Method = Literal["json_schema", "function_calling", "json_mode"]
METHODS: tuple[Method, ...] = ("json_schema", "function_calling", "json_mode")

# Chat models whose own structured-output request TPO knows, by class name anywhere in the
# model's class hierarchy (no import of optional packages needed to recognise them).
_VLLM_STYLE = frozenset({"ChatVLLM"})
_OPENAI_STYLE = frozenset({"BaseChatOpenAI", "ScriptedChatModel"})

_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_FENCED_JSON = re.compile(r"^```(?:json|JSON)?\s*\n?(.*?)\n?\s*```$", re.DOTALL)


class InvalidAnswer(ValueError):
    """A reply that is not a valid object of the answer schema."""


@dataclass(frozen=True)
class AnswerSchema:
    """The schema answers must follow, how the policy is asked for it, and how it is scored.

    Example:
        ```python
        from pydantic import BaseModel

        from langchain_tpo import AnswerSchema, TPOChain


        class Person(BaseModel):
            name: str
            age: int


        chain = TPOChain(policy=policy, reward=reward, answer_schema=Person)
        chain.invoke("Invent a person.").parsed  # a Person
        # or, with a rendering the reward reads instead of the JSON text:
        AnswerSchema(Person, render=lambda p: f"{p.name} is {p.age} years old.")
        ```
    """

    schema: Any
    """A pydantic model class (v2 or v1), a TypedDict class, or a JSON schema dict."""
    method: Method = "json_schema"
    """How samples and rewrites are asked for: `json_schema` (constrained to the schema where
    the policy can), `json_mode` (any JSON object, the schema in the prompt) or
    `function_calling` (a forced tool call whose arguments are the object)."""
    strict: bool | None = None
    """Passed on as the `strict` flag of OpenAI-style schemas and tools; None leaves it out."""
    render: Callable[[Any], str] | None = None
    """Turns a validated object into the text the reward scores; None: its JSON text."""
    json_schema: dict[str, Any] = field(init=False, repr=False, compare=False)
    """The schema as JSON schema."""
    name: str = field(init=False, repr=False, compare=False)
    """The schema's name (a pydantic model's class name, a JSON schema's title), as OpenAI-style
    schema and tool names allow it."""

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            msg = (
                f"method must be one of {', '.join(METHODS)} (how the policy is asked for the "
                f"schema); got {self.method!r}."
            )
            raise ValueError(msg)
        if self.render is not None and not callable(self.render):
            msg = "render must be a function from the validated object to the text to score."
            raise TypeError(msg)
        given = self.schema.get("type") if isinstance(self.schema, dict) else None
        if given not in (None, "object"):
            msg = f"The answer schema must describe a JSON object; its type is {given!r}."
            raise ValueError(msg)
        try:
            schema = convert_to_json_schema(self.schema)
            name = convert_to_openai_tool(self.schema)["function"]["name"]
        except (TypeError, ValueError, KeyError) as e:
            msg = (
                "answer_schema must be a pydantic model class, a TypedDict class or a JSON "
                f"schema dict (with a 'title'); got {self.schema!r}: {e}"
            )
            raise ValueError(msg) from e
        object.__setattr__(self, "json_schema", schema)
        # OpenAI-style schema and tool names are letters, digits, "_" and "-", at most 64.
        object.__setattr__(self, "name", _NAME_UNSAFE.sub("_", str(name))[:64] or "answer")

    @classmethod
    def of(cls, value: Any) -> AnswerSchema | None:
        """An `AnswerSchema` as it is, a bare schema wrapped in one, None as None."""
        if value is None or isinstance(value, AnswerSchema):
            return value
        return cls(value)

    # -- asking -----------------------------------------------------------------------------

    def instruction(self) -> str:
        """What every prompt adds to the query: answer with one object of the schema."""
        schema = json.dumps(self.json_schema, ensure_ascii=False)
        return (
            f"Reply with one JSON object that follows this JSON schema, and nothing else:\n{schema}"
        )

    def request_kwargs(self, model: Any) -> tuple[dict[str, Any], bool]:
        """Keyword arguments that ask one request of `model` for an answer in the schema.

        Args:
            model: The chat model under any `.bind(...)` layers.

        Returns:
            The keyword arguments, and whether the policy's output is constrained by them
            (False: the schema is only in the prompt).

        Raises:
            ValueError: `function_calling` was asked of a policy that cannot call tools.
        """
        kind = _style(model)
        if self.method == "function_calling":
            return self._tool_kwargs(model), True
        if kind == "vllm":
            spec: dict[str, Any] = {"json_object": True}
            if self.method == "json_schema":
                spec = {"json": self.json_schema}
            return {"structured_outputs": spec}, True
        if kind == "openai":
            if self.method == "json_mode":
                return {"response_format": {"type": "json_object"}}, True
            described: dict[str, Any] = {"name": self.name, "schema": self.json_schema}
            if self.strict is not None:
                described["strict"] = self.strict
            return {"response_format": {"type": "json_schema", "json_schema": described}}, True
        if self.method == "json_schema" and _binds_tools(model):
            return self._tool_kwargs(model), True
        return {}, False

    def _tool_kwargs(self, model: Any) -> dict[str, Any]:
        if not _binds_tools(model):
            msg = (
                f"answer_schema method 'function_calling' needs a policy that calls tools; "
                f"{type(model).__name__} has no bind_tools. Use method='json_schema'."
            )
            raise ValueError(msg)
        options = {"strict": self.strict} if self.strict is not None else {}
        bound = model.bind_tools([self.tool()], tool_choice=self.name, **options)
        if not isinstance(bound, RunnableBinding):
            msg = f"{type(model).__name__}.bind_tools did not return a binding TPO can use."
            raise ValueError(msg)
        return dict(bound.kwargs)

    def tool(self) -> dict[str, Any]:
        """The schema as an OpenAI-style tool (for `function_calling`)."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.json_schema.get("description", f"Give the {self.name}."),
                "parameters": self.json_schema,
            },
        }

    # -- reading ----------------------------------------------------------------------------

    def reply_text(self, message: BaseMessage | None, answer: str) -> str:
        """The text of a reply's object: a tool call's arguments, else the answer text."""
        if isinstance(message, AIMessage) and message.tool_calls:
            calls = message.tool_calls
            call = next((c for c in calls if c["name"] == self.name), calls[0])
            return json.dumps(call["args"], ensure_ascii=False)
        return answer

    def validate(self, text: str) -> tuple[Any, str]:
        """The object a reply's text holds, and its canonical JSON text.

        Raises:
            InvalidAnswer: The text is not a JSON object, or the object breaks the schema.
        """
        data = _load_object(text)
        schema = self.schema
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            try:
                value = schema.model_validate(data)
            except ValueError as e:
                raise InvalidAnswer(_first_line(e)) from e
            return value, _dumps(value.model_dump(mode="json"))
        if _is_pydantic_v1(schema):
            try:
                value = schema.parse_obj(data)
            except ValueError as e:
                raise InvalidAnswer(_first_line(e)) from e
            return value, _dumps(json.loads(value.json()))
        _check_json_schema(data, self.json_schema)
        return data, _dumps(data)

    def parse(self, text: str) -> Any:
        """The validated object of a cached answer text."""
        return self.validate(text)[0]

    def reward_text(self, text: str) -> str:
        """What the reward scores for a cached answer: its JSON text or the rendering."""
        if self.render is None:
            return text
        return str(self.render(self.parse(text)))


def _style(model: Any) -> str | None:
    names = {cls.__name__ for cls in type(model).__mro__}
    if names & _VLLM_STYLE:
        return "vllm"
    if names & _OPENAI_STYLE:
        return "openai"
    return None


def _binds_tools(model: Any) -> bool:
    return isinstance(model, BaseChatModel) and (
        type(model).bind_tools is not BaseChatModel.bind_tools
    )


def _is_pydantic_v1(schema: Any) -> bool:
    try:
        from pydantic import v1
    except ImportError:  # pragma: no cover - pydantic 2 ships v1
        return False
    return isinstance(schema, type) and issubclass(schema, v1.BaseModel)


def _load_object(text: str) -> dict[str, Any]:
    stripped = text.strip()
    fenced = _FENCED_JSON.match(stripped)
    if fenced:
        stripped = fenced.group(1).strip()
    try:
        value = json.loads(stripped)
    except ValueError:
        start = stripped.find("{")
        try:
            value, _ = json.JSONDecoder().raw_decode(stripped[start:]) if start != -1 else (None, 0)
        except ValueError:
            value = None
        if value is None:
            preview = stripped[:60] + ("..." if len(stripped) > 60 else "")
            msg = f"not a JSON object: {preview!r}"
            raise InvalidAnswer(msg) from None
    if not isinstance(value, dict):
        msg = f"a JSON {type(value).__name__}, not an object"
        raise InvalidAnswer(msg)
    return value


def _check_json_schema(data: Mapping[str, Any], schema: dict[str, Any]) -> None:
    try:
        import jsonschema
    except ImportError as e:  # pragma: no cover - a dependency of langchain-tpo
        msg = "Validating answers against a JSON schema needs jsonschema: pip install jsonschema."
        raise ImportError(msg) from e
    validator_class = jsonschema.validators.validator_for(schema)
    error = jsonschema.exceptions.best_match(validator_class(schema).iter_errors(data))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "the object"
        msg = f"{where}: {error.message}"
        raise InvalidAnswer(msg)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _first_line(error: Exception) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    return " ".join(lines[:3])


__all__ = ["METHODS", "AnswerSchema", "InvalidAnswer", "Method"]
