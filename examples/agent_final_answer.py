"""An agent with a real tool whose final answer goes through TPO (`TPOMiddleware`).

`create_agent` runs the loop: the model asks for a tool, the agent runs it, the model answers.
`TPOMiddleware` refines that answer: the conversation (question, tool call, tool result) is
TPO's context, the model's own answer seeds TPO's cache, and the message the agent returns is
the answer the reward model prefers (the model's own when nothing beats it), with its reward
and the best reward by iteration in `response_metadata`.

SmolLM2-135M, the default policy, cannot call tools, and its chat template has no tool role;
`LookupByKeyword` stands in for that part: on the first turn it picks the tool calls by
keywords instead of asking the model, and afterwards shows the model the tool results as text.
With a tool-calling model (such as `ChatOpenAI` against `vllm serve --enable-auto-tool-choice
--tool-call-parser ...`), drop `LookupByKeyword`; the rest stays.

Run: python examples/agent_final_answer.py
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from _models import SMALL, default_models
from langchain.agents import create_agent
from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool

from langchain_tpo import TPOResult
from langchain_tpo.agents import TPOMiddleware, tpo_input

QUESTION = "How late is the library open, and what if I return a book late?"
FACTS = {
    "opening hours": "The city library opens 9:00-18:00 on weekdays and 10:00-14:00 on Saturdays.",
    "card": "A library card is free for residents; bring a photo ID and proof of address.",
    "late": "Late returns cost 0.20 EUR per item per day, capped at 5 EUR.",
}
KEYWORDS = {"opening hours": ("open", "hour", "close"), "card": ("card", "join"), "late": ("late",)}


@tool
def library_facts(topic: str) -> str:
    """Look up a fact about the city library: opening hours, card, late fees."""
    return FACTS.get(topic, "No fact on that topic.")


class LookupByKeyword(AgentMiddleware):
    """Tool use for a model that cannot call tools: keyword lookups, then text turns."""

    def wrap_model_call(
        self, request: ModelRequest, handler: Callable[[ModelRequest], ModelResponse]
    ) -> ModelResponse | AIMessage:
        if not any(isinstance(m, ToolMessage) for m in request.messages):
            question = request.messages[-1].text.lower()
            topics = [t for t, words in KEYWORDS.items() if any(w in question for w in words)]
            calls: list[Any] = [
                {"name": "library_facts", "args": {"topic": topic}, "id": f"call_{i}"}
                for i, topic in enumerate(topics or ["card"])
            ]
            return AIMessage("", tool_calls=calls)
        # The tool results as an assistant turn of text, then the question again.
        conversation = tpo_input(request.messages)
        messages = [*conversation["context"], HumanMessage(conversation["query"])]
        return handler(request.override(messages=messages, tools=[]))


def build_agent() -> Any:
    policy, reward = default_models()
    return create_agent(
        policy,
        tools=[library_facts],
        system_prompt="You answer questions about the city library from the facts you look up.",
        # The first middleware wraps the others: TPO refines what the model answered.
        middleware=[
            TPOMiddleware(reward=reward, config=SMALL, return_full_result=True),
            LookupByKeyword(),
        ],
    )


def main() -> None:
    agent = build_agent()
    state = agent.invoke({"messages": [("human", QUESTION)]})
    for message in state["messages"]:
        if isinstance(message, ToolMessage):
            print(f"Tool {message.name}: {message.text}")
    answer = state["messages"][-1]
    result = TPOResult.model_validate(answer.response_metadata["tpo_result"])
    draft = result.candidates[0]  # the model's own answer, seeded first
    print(f"\nThe model's answer (reward {draft.score:+.3f}):\n{draft.text}\n")
    metadata = answer.response_metadata
    print(
        f"Final answer (reward {metadata['tpo_score']:+.3f}, best by step "
        f"{[round(s, 3) for s in metadata['tpo_best_scores']]}):"
    )
    print(answer.text)


if __name__ == "__main__":
    main()
