"""Who sees TPO's policy requests as chat-model runs inside a TPOChatModel call.

LangChain's standard structured-output tests (run as they are by the scripted suite in
tests/unit_tests/chat_models/test_tpo_chat_standard.py) expect one `on_chat_model_start` per
call. By default a plain handler sees exactly that, while tracers still see every policy
request nested under the call; `policy_runs_seen_by="all"` shows them to every handler.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.callbacks.usage import get_usage_metadata_callback
from langchain_core.utils.function_calling import convert_to_json_schema
from langchain_tests.integration_tests.chat_models import _get_joke_class

from langchain_tpo import TPOChatModel
from tests.traced_runs import Collector, all_runs
from tests.unit_tests.chat_models.test_tpo_chat_standard import scripted_chain


class Starts(BaseCallbackHandler):
    """Every chat-model start (its options) and every custom event a plain handler sees."""

    def __init__(self) -> None:
        self.starts: list[dict[str, Any] | None] = []
        self.events: list[str] = []

    def on_chat_model_start(
        self, serialized: Any, messages: Any, *, options: dict[str, Any] | None = None, **_: Any
    ) -> None:
        self.starts.append(options)

    def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **_: Any) -> None:
        self.events.append(name)


def test_a_plain_handler_sees_one_chat_model_run_with_the_schema_and_tpo_progress() -> None:
    chain = scripted_chain()
    schema, validation_function = _get_joke_class("pydantic")
    chat = TPOChatModel(chain=chain).with_structured_output(schema)
    starts, tracer = Starts(), Collector()
    result = chat.invoke("Tell me a joke about cats.", config={"callbacks": [starts, tracer]})
    assert validation_function(result)
    assert len(starts.starts) == 1
    options = starts.starts[0]
    assert options is not None
    assert options["ls_structured_output_format"]["schema"] == convert_to_json_schema(schema)
    assert "tpo.stage" in starts.events  # progress still reaches every handler
    # The tracer sees the whole tree: every policy request is a chat-model run under the call.
    root = next(r for r in tracer.runs if r.parent_run_id is None)
    model_runs = [r for r in all_runs(root) if r.run_type == "llm"]
    assert model_runs[0].name == "TPOChatModel"
    assert len(chain.policy.requests) > 0
    assert len(model_runs[1:]) == len(chain.policy.requests)


async def test_all_handlers_can_see_the_policy_requests() -> None:
    chain = scripted_chain()
    model = TPOChatModel(chain=chain, policy_runs_seen_by="all")
    starts = Starts()
    await model.ainvoke("Tell me a joke about cats.", config={"callbacks": [starts]})
    assert len(starts.starts) == 1 + len(chain.policy.requests)


def test_a_token_counter_counts_the_policy_tokens_once() -> None:
    chain = scripted_chain()
    model = TPOChatModel(chain=chain)
    with get_usage_metadata_callback() as counter:
        reply = model.invoke("Tell me a joke about cats.")
    assert reply.usage_metadata is not None and reply.usage_metadata["output_tokens"] > 0
    (counted,) = counter.usage_metadata.values()
    assert counted["output_tokens"] == reply.usage_metadata["output_tokens"]
