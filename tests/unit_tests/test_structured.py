"""TPO over a schema: answers asked for in it, validated, scored as JSON, returned as objects."""

from __future__ import annotations

import json
from typing import Annotated, Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from pydantic import BaseModel, Field, v1
from typing_extensions import TypedDict

from langchain_tpo import AnswerSchema, TPOChain, TPOChatModel, TPOConfig, TPOResult
from langchain_tpo.reward_models import FunctionReward
from langchain_tpo.structured import InvalidAnswer
from langchain_tpo.testing import (
    THINKING_MARK,
    ScriptedChatModel,
    ScriptedChatModelWithN,
    ScriptedReasoningModelWithN,
    ScriptedToolCallingModel,
)


class Person(BaseModel):
    """A person."""

    name: str = Field(max_length=40)
    age: int = Field(ge=0)


class PersonDict(TypedDict):
    """A person."""

    name: Annotated[str, ..., "their name"]
    age: Annotated[int, ..., "their age"]


class PersonV1(v1.BaseModel):
    """A person."""

    name: str
    age: int


def people(schema: dict[str, Any] | None, messages: list[BaseMessage], index: int) -> str:
    """Replies to a request for a Person: some valid, some not, some not JSON at all."""
    kinds = [
        json.dumps({"name": f"Ann {'x' * index}", "age": index}),
        "```json\n" + json.dumps({"name": "Bo", "age": 30 + index}) + "\n```",
        json.dumps({"name": "Cy", "age": -1}),  # breaks the schema
        "I would rather describe them in words.",  # not JSON
    ]
    return kinds[index % len(kinds)]


def scored_lengths() -> tuple[FunctionReward, list[str]]:
    seen: list[str] = []

    def score(query: str, response: str) -> float:
        seen.append(response)
        return float(len(response))

    return FunctionReward(score), seen


# -- AnswerSchema -------------------------------------------------------------------------------


@pytest.mark.parametrize("schema", [Person, PersonDict, Person.model_json_schema(), PersonV1])
def test_every_schema_kind_validates_and_rejects(schema: Any) -> None:
    spec = AnswerSchema(schema)
    value, text = spec.validate('Here it is: {"name": "Ann", "age": 3} hope that helps')
    assert json.loads(text) == {"name": "Ann", "age": 3}
    assert (value.name if hasattr(value, "name") else value["name"]) == "Ann"
    for bad in ('{"name": "Ann"}', '{"name": "Ann", "age": "old"}', "[1, 2]", "no json", ""):
        with pytest.raises(InvalidAnswer):
            spec.validate(bad)


def test_the_name_sent_is_one_servers_accept() -> None:
    spec = AnswerSchema({"title": "A person (short)", "type": "object", "properties": {}})
    assert spec.name == "A_person__short_"
    assert spec.request_kwargs(ScriptedChatModel())[0]["response_format"]["json_schema"][
        "name"
    ] == ("A_person__short_")


def test_a_bad_schema_or_method_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="method must be one of"):
        AnswerSchema(Person, method="xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="JSON object"):
        AnswerSchema({"title": "N", "type": "integer"})
    with pytest.raises(ValueError, match="answer_schema must be"):
        AnswerSchema(42)


def test_requests_take_the_form_each_backend_knows() -> None:
    spec = AnswerSchema(Person, strict=True)

    class ChatVLLM(ScriptedChatModel):  # recognised by its class name, as the real one
        pass

    vllm, constrained = spec.request_kwargs(ChatVLLM())
    assert constrained and vllm == {"structured_outputs": {"json": spec.json_schema}}
    server, _ = spec.request_kwargs(ScriptedChatModel())
    assert server["response_format"]["json_schema"] == {
        "name": "Person",
        "schema": spec.json_schema,
        "strict": True,
    }
    json_mode, _ = AnswerSchema(Person, method="json_mode").request_kwargs(ChatVLLM())
    assert json_mode == {"structured_outputs": {"json_object": True}}
    tools, constrained = AnswerSchema(Person, method="function_calling").request_kwargs(
        ScriptedToolCallingModel()
    )
    assert constrained and tools["tool_choice"] == "Person"
    assert tools["tools"][0]["function"]["parameters"] == spec.json_schema

    class Plain(BaseChatModel):
        @property
        def _llm_type(self) -> str:
            return "plain"

        def _generate(self, *args: Any, **kwargs: Any) -> Any:
            raise NotImplementedError

    assert spec.request_kwargs(Plain()) == ({}, False)
    with pytest.raises(ValueError, match="needs a policy that calls tools"):
        AnswerSchema(Person, method="function_calling").request_kwargs(Plain())


# -- TPOChain over a schema ---------------------------------------------------------------------


@pytest.mark.parametrize("model_class", [ScriptedChatModel, ScriptedChatModelWithN])
def test_the_chain_returns_the_best_valid_object_and_counts_the_rest(
    model_class: type[ScriptedChatModel],
) -> None:
    policy = model_class(structured_responder=people)
    reward, seen = scored_lengths()
    chain = TPOChain(
        policy=policy,
        reward=reward,
        config=TPOConfig(num_samples=4, max_iterations=1, seed=1),
        answer_schema=Person,
    )
    result = chain.invoke("Invent a person.")
    assert isinstance(result.parsed, Person)
    assert json.loads(result.response) == result.parsed.model_dump()
    # Of 8 replies (4 samples, 4 rewrites), those of the last two kinds are invalid.
    assert result.invalid_outputs == 4 and len(result.candidates) == 4
    assert all(json.loads(c.text) for c in result.candidates)  # the cache holds JSON only
    assert seen and all(Person.model_validate_json(text) for text in seen)
    # Samples and rewrites asked for the schema; the critique and suggestion did not.
    for request in policy.requests:
        asked = "response_format" in request.kwargs
        assert asked == (request.stage in ("sample", "rewrite")), request.stage


def test_critiques_and_suggestions_talk_about_the_object() -> None:
    policy = ScriptedChatModelWithN(structured_responder=people)
    chain = TPOChain(
        policy=policy,
        reward=scored_lengths()[0],
        config=TPOConfig(num_samples=4, max_iterations=1, seed=1),
        answer_schema=Person,
    )
    chain.invoke("Invent a person.")
    for stage in ("sample", "critique", "suggest", "rewrite"):
        (request,) = policy.requests_for(stage)
        text = "\n".join(m.text for m in request.messages)
        assert "JSON schema" in text and '"age"' in text, stage
    critique = policy.requests_for("critique")[0].messages[-1].text
    assert '{"name": "' in critique  # the objects, as JSON


def test_a_rendering_is_what_the_reward_reads() -> None:
    reward, seen = scored_lengths()
    spec = AnswerSchema(Person, render=lambda p: f"{p.name} is {p.age} years old.")
    chain = TPOChain(
        policy=ScriptedChatModelWithN(structured_responder=people),
        reward=reward,
        config=TPOConfig(num_samples=4, max_iterations=0),
        answer_schema=spec,
    )
    result = chain.invoke("Invent a person.")
    assert seen and all(text.endswith("years old.") for text in seen)
    assert isinstance(result.parsed, Person) and result.response.startswith("{")


def test_function_calling_reads_the_tool_call_arguments() -> None:
    policy = ScriptedToolCallingModel()
    chain = TPOChain(
        policy=policy,
        reward=scored_lengths()[0],
        config=TPOConfig(num_samples=2, max_iterations=1),
        answer_schema=AnswerSchema(PersonDict, method="function_calling"),
    )
    result = chain.invoke("Invent a person aged 7.")
    assert result.parsed["age"] == 7 and result.invalid_outputs == 0
    for request in policy.requests_for("sample") + policy.requests_for("rewrite"):
        assert request.kwargs["tool_choice"] == "PersonDict"


def test_a_policy_without_structured_output_is_asked_in_the_prompt_and_warned_about() -> None:
    class Plain(BaseChatModel):
        @property
        def _llm_type(self) -> str:
            return "plain"

        def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
            from langchain_core.messages import AIMessage
            from langchain_core.outputs import ChatGeneration, ChatResult

            text = messages[-1].text
            reply = '{"name": "Di", "age": 4}' if "JSON schema" in text else "prose"
            return ChatResult(generations=[ChatGeneration(message=AIMessage(reply))])

    chain = TPOChain(
        policy=Plain(),
        reward=scored_lengths()[0],
        config=TPOConfig(num_samples=2, max_iterations=0),
        answer_schema=Person,
    )
    result = chain.invoke("Invent a person.")
    assert result.parsed == Person(name="Di", age=4)
    assert sum("in the prompt only" in w for w in result.warnings) == 1


def test_no_valid_object_means_no_answer() -> None:
    chain = TPOChain(
        policy=ScriptedChatModelWithN(structured_responder=lambda s, m, i: "not JSON"),
        reward=scored_lengths()[0],
        config=TPOConfig(num_samples=3, max_iterations=1),
        answer_schema=Person,
    )
    result = chain.invoke("Invent a person.")
    assert result.parsed is None and result.response == ""
    assert result.invalid_outputs == 3 and result.stop_reason == "no_usable_response"


def test_drafts_must_fit_the_schema() -> None:
    chain = TPOChain(
        policy=ScriptedChatModelWithN(structured_responder=people),
        reward=FunctionReward(lambda q, r: 100.0 if "Eve" in r else 0.0),
        config=TPOConfig(num_samples=2, max_iterations=0),
        answer_schema=Person,
    )
    result = chain.invoke(
        {"query": "Invent a person.", "drafts": ['{"name": "Eve", "age": 5}', "Eve, five"]}
    )
    assert result.parsed == Person(name="Eve", age=5)
    assert result.invalid_outputs == 1
    assert any("did not fit the answer schema" in w for w in result.warnings)


def test_a_reasoning_policy_thinks_before_its_object() -> None:
    policy = ScriptedReasoningModelWithN(thinking_form="tags")
    result = TPOChain(
        policy=policy,
        reward=scored_lengths()[0],
        config=TPOConfig(num_samples=2, max_iterations=1),
        answer_schema=Person,
    ).invoke("Invent a person.")
    assert isinstance(result.parsed, Person) and THINKING_MARK not in result.response
    assert all(c.thinking and THINKING_MARK in c.thinking for c in result.candidates)


# -- TPOChatModel.with_structured_output --------------------------------------------------------


def structured_model(**kwargs: Any) -> TPOChatModel:
    chain = TPOChain(
        policy=ScriptedChatModelWithN(**kwargs),
        reward=scored_lengths()[0],
        config=TPOConfig(num_samples=4, max_iterations=1, seed=1),
    )
    return TPOChatModel(chain=chain)


@pytest.mark.parametrize("schema", [Person, PersonV1])
def test_with_structured_output_returns_a_valid_object(schema: Any) -> None:
    model = structured_model(structured_responder=people)
    person = model.with_structured_output(schema).invoke("Invent a person.")
    assert isinstance(person, schema)
    assert model.chain.answer_schema is None  # the original model is unchanged


async def test_with_structured_output_async_and_dict_schemas() -> None:
    model = structured_model(structured_responder=people)
    person = await model.with_structured_output(PersonDict).ainvoke("Invent a person.")
    assert set(person) == {"name", "age"}
    chunks = [c async for c in model.with_structured_output(Person).astream("Invent a person.")]
    assert chunks and isinstance(chunks[-1], Person)


def test_include_raw_has_the_message_the_object_and_no_error() -> None:
    model = structured_model(structured_responder=people)
    out = model.with_structured_output(Person, include_raw=True).invoke("Invent a person.")
    assert set(out) == {"raw", "parsed", "parsing_error"}
    assert isinstance(out["parsed"], Person) and out["parsing_error"] is None
    assert Person.model_validate_json(out["raw"].text) == out["parsed"]


def test_include_raw_reports_a_run_without_a_valid_object() -> None:
    model = structured_model(structured_responder=lambda s, m, i: "not JSON")
    out = model.with_structured_output(Person, include_raw=True).invoke("Invent a person.")
    assert out["parsed"] is None and out["parsing_error"] is not None
    assert out["raw"].text == ""


def test_with_structured_output_refuses_unknown_arguments() -> None:
    with pytest.raises(ValueError, match="does not take"):
        structured_model().with_structured_output(Person, tools=[])
    with pytest.raises(ValueError, match="method must be one of"):
        structured_model().with_structured_output(Person, method="xml")  # type: ignore[arg-type]


def test_a_cached_answer_that_does_not_fit_parses_to_none() -> None:
    # A thread's cache written by a run with another schema, read with this one.
    state = {
        "query": "q",
        "candidates": [{"text": "prose", "score": 1.0, "iteration": -1, "feedback": None}],
    }
    result = TPOResult.from_state(state, answer_schema=AnswerSchema(Person))
    assert result.response == "prose" and result.parsed is None
