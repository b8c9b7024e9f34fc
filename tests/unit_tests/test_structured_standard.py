"""The checks of langchain-tests' `test_structured_output` and `test_structured_output_async`,
on TPOChatModel over the scripted policy, counting its own chat-model run apart from TPO's.

The suite's versions are expected to fail for TPOChatModel on one assertion only: they expect a
single `on_chat_model_start`, and a TPO run nests one for every policy request it makes (each
tagged `nostream`), since every policy request is a traced run. Everything else they check is
checked here, with the same schemas: the result on invoke and on every streamed chunk, and the
one start of the TPOChatModel run carrying `ls_structured_output_format` with the schema.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.utils.function_calling import convert_to_json_schema
from langchain_tests.integration_tests.chat_models import _get_joke_class

from langchain_tpo import TPOChatModel
from tests.unit_tests.chat_models.test_tpo_chat_standard import scripted_chain

SchemaType = Literal["pydantic", "typeddict", "json_schema"]


class Starts(BaseCallbackHandler):
    """Every chat-model start: its options, tags and parent run."""

    def __init__(self) -> None:
        self.starts: list[tuple[dict[str, Any] | None, list[str], UUID | None]] = []

    def on_chat_model_start(
        self,
        serialized: Any,
        messages: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.starts.append((options, list(tags or []), parent_run_id))

    def check(self, schema: Any, policy_requests: int) -> None:
        own = [s for s in self.starts if "nostream" not in s[1]]
        assert len(own) == 1, "Expected on_chat_model_start once for the TPOChatModel run"
        options = own[0][0]
        assert isinstance(options, dict)
        assert isinstance(options["ls_structured_output_format"]["schema"], dict)
        assert options["ls_structured_output_format"]["schema"] == convert_to_json_schema(schema)
        nested = [s for s in self.starts if "nostream" in s[1]]
        assert len(nested) == policy_requests > 0  # TPO's own requests, one run each


@pytest.mark.parametrize("schema_type", ["pydantic", "typeddict", "json_schema"])
def test_structured_output(schema_type: SchemaType) -> None:
    chain = scripted_chain()
    model = TPOChatModel(chain=chain)
    schema, validation_function = _get_joke_class(schema_type)
    chat = model.with_structured_output(schema)

    on_invoke = Starts()
    result = chat.invoke("Tell me a joke about cats.", config={"callbacks": [on_invoke]})
    assert validation_function(result)
    on_invoke.check(schema, len(chain.policy.requests))

    on_stream = Starts()
    before = len(chain.policy.requests)
    chunk = None
    for chunk in chat.stream("Tell me a joke about cats.", config={"callbacks": [on_stream]}):
        assert validation_function(chunk)
    assert chunk is not None
    on_stream.check(schema, len(chain.policy.requests) - before)


@pytest.mark.parametrize("schema_type", ["pydantic", "typeddict", "json_schema"])
async def test_structured_output_async(schema_type: SchemaType) -> None:
    chain = scripted_chain()
    model = TPOChatModel(chain=chain)
    schema, validation_function = _get_joke_class(schema_type)
    chat = model.with_structured_output(schema)

    on_invoke = Starts()
    result = await chat.ainvoke("Tell me a joke about cats.", config={"callbacks": [on_invoke]})
    assert validation_function(result)
    on_invoke.check(schema, len(chain.policy.requests))

    on_stream = Starts()
    before = len(chain.policy.requests)
    chunk = None
    async for chunk in chat.astream(
        "Tell me a joke about cats.", config={"callbacks": [on_stream]}
    ):
        assert validation_function(chunk)
    assert chunk is not None
    on_stream.check(schema, len(chain.policy.requests) - before)
