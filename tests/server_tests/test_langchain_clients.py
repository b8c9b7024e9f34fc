"""LangChain's `ChatOpenAI` pointed at `tpo serve`: in an LCEL chain and in `create_agent`."""

from __future__ import annotations

from langchain.agents import create_agent
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

from langchain_tpo import TPOConfig
from langchain_tpo.testing import ScriptedToolCallingModel
from tests.server_tests.conftest import KEY, echo, serving


def chat_model(url: str, **kwargs: object) -> ChatOpenAI:
    return ChatOpenAI(base_url=f"{url}/v1", api_key=KEY, model="tpo", max_retries=0, **kwargs)


def test_chat_openai_in_an_lcel_chain() -> None:
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer kindly."), ("human", "Explain {topic} to a child.")]
    )
    with serving(api_key=KEY) as server:
        model = chat_model(server.url, extra_body={"tpo": {"num_samples": 3}})
        chain = prompt | model | StrOutputParser()
        answer = chain.invoke({"topic": "tides"})
        replies = chain.batch([{"topic": "rain"}, {"topic": "wind"}])
        reply = (prompt | model).invoke({"topic": "snow"})
    assert answer.startswith("About [Explain tides to a child.]")
    assert [r.split("]")[0] for r in replies] == [
        "About [Explain rain to a child.",
        "About [Explain wind to a child.",
    ]
    assert reply.usage_metadata is not None and reply.usage_metadata["total_tokens"] > 0


def test_chat_openai_streams_the_answer_with_usage() -> None:
    with serving(api_key=KEY) as server:
        model = chat_model(server.url, stream_usage=True)
        chunks = list(model.stream("Why is the sky blue?"))
    text = "".join(c.text for c in chunks)
    assert text.startswith("About [Why is the sky blue?]")
    usage = [c.usage_metadata for c in chunks if c.usage_metadata]
    assert usage and usage[-1]["total_tokens"] > 0
    assert [
        c.response_metadata.get("finish_reason")
        for c in chunks
        if c.response_metadata.get("finish_reason")
    ] == ["stop"]


@tool
def library_hours(day: str) -> str:
    """Opening hours of the city library on a given day."""
    return "9:00-18:00 on weekdays, 10:00-14:00 on Saturdays."


def test_create_agent_with_a_tool_through_tpo() -> None:
    """The server's policy calls the tool (the call passes through TPO); the agent runs it;
    the policy's final answer, with the tool result in its context, is refined by TPO."""
    policy = ScriptedToolCallingModel(responder=echo)
    config = TPOConfig(num_samples=2, max_iterations=1)
    with serving(policy=policy, config=config, api_key=KEY) as server:
        agent = create_agent(chat_model(server.url), [library_hours])
        state = agent.invoke({"messages": [("human", "Is the library open on Saturday?")]})
    messages = state["messages"]
    calls = [m for m in messages if isinstance(m, AIMessage) and m.tool_calls]
    results = [m for m in messages if isinstance(m, ToolMessage)]
    assert len(calls) == 1 and calls[0].tool_calls[0]["name"] == "library_hours"
    assert results and "10:00-14:00" in results[0].text
    final = messages[-1]
    assert isinstance(final, AIMessage) and not final.tool_calls
    assert final.text.startswith("About [Is the library open on Saturday?]")
    # the tool call came from the policy with the tools bound; TPO's own requests had none
    tool_requests = [r for r in policy.requests if r.kwargs.get("tools")]
    assert len(tool_requests) == 2  # the call, then the final answer's draft
    assert {t["function"]["name"] for t in tool_requests[0].kwargs["tools"]} == {"library_hours"}
    assert any(r.stage == "rewrite" and not r.kwargs.get("tools") for r in policy.requests)
