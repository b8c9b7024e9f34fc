"""An agent whose final answer goes through TPO.

A small LangGraph agent looks facts up with a tool, drafts an answer from them with the policy,
then hands the draft, the question and the tool results to TPO, which returns the answer the
reward model prefers (the draft itself when nothing beats it). A 135M model cannot call tools
reliably, so the tool step here is a plain keyword router; with a tool-calling model it would
be `create_agent(model, tools)` and the same final TPO node.

Run: python examples/agent_final_answer.py
"""

from __future__ import annotations

from _models import SMALL, default_models
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from langchain_tpo import TPOChain, TPOResult

FACTS = {
    "opening hours": "The city library opens 9:00-18:00 on weekdays and 10:00-14:00 on Saturdays.",
    "card": "A library card is free for residents; bring a photo ID and proof of address.",
    "late": "Late returns cost 0.20 EUR per item per day, capped at 5 EUR.",
}


@tool
def library_facts(topic: str) -> str:
    """Look up a fact about the city library: opening hours, card, late fees."""
    return FACTS.get(topic, "No fact on that topic.")


class AgentState(TypedDict, total=False):
    question: str
    messages: list[BaseMessage]
    draft: str
    result: TPOResult


def build_agent() -> object:
    policy, reward = default_models()
    tpo = TPOChain(policy=policy, reward=reward, config=SMALL)

    def research(state: AgentState) -> AgentState:
        question = state["question"].lower()
        topics = [t for t in FACTS if any(word in question for word in t.split())] or ["card"]
        messages: list[BaseMessage] = [HumanMessage(state["question"])]
        for i, topic in enumerate(topics):
            call_id = f"call_{i}"
            messages.append(
                AIMessage(
                    "",
                    tool_calls=[{"name": "library_facts", "args": {"topic": topic}, "id": call_id}],
                )
            )
            messages.append(
                ToolMessage(library_facts.invoke({"topic": topic}), tool_call_id=call_id)
            )
        return {"messages": messages}

    def draft(state: AgentState) -> AgentState:
        facts = "\n".join(m.text for m in state["messages"] if isinstance(m, ToolMessage))
        reply = policy.invoke(f"Facts:\n{facts}\n\nUsing these facts, answer: {state['question']}")
        return {"draft": reply.text}

    def final_answer(state: AgentState) -> AgentState:
        facts = "\n".join(m.text for m in state["messages"] if isinstance(m, ToolMessage))
        context = [HumanMessage(f"Facts from the library's records:\n{facts}"), AIMessage("Noted.")]
        result = tpo.invoke(
            {"query": state["question"], "context": context, "drafts": [state["draft"]]}
        )
        return {"result": result}

    graph = StateGraph(AgentState)
    graph.add_node("research", research)
    graph.add_node("draft", draft)
    graph.add_node("final_answer", final_answer)
    graph.add_edge(START, "research")
    graph.add_edge("research", "draft")
    graph.add_edge("draft", "final_answer")
    graph.add_edge("final_answer", END)
    return graph.compile()


def main() -> None:
    agent = build_agent()
    state = agent.invoke(
        {"question": "How late is the library open, and what if I return a book late?"}
    )  # type: ignore[attr-defined]
    result: TPOResult = state["result"]
    print(f"Draft:\n{state['draft']}\n")
    print(f"Final answer (reward {result.score:+.3f}, best by step {result.best_scores}):")
    print(result.response)


if __name__ == "__main__":
    main()
