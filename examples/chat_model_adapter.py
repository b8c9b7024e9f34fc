"""TPO where a chat model is expected: `TPOChatModel` in a prompt pipe and a chat loop.

Run: python examples/chat_model_adapter.py
"""

from __future__ import annotations

from _models import SMALL, default_models
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from langchain_tpo import TPOChain, TPOChatModel


def main() -> None:
    policy, reward = default_models()
    model = TPOChatModel(chain=TPOChain(policy=policy, reward=reward, config=SMALL))

    # 1. Anywhere an LCEL chain takes a chat model.
    prompt = ChatPromptTemplate.from_messages(
        [("system", "You are a patient teacher."), ("human", "Explain {topic} simply.")]
    )
    print((prompt | model | StrOutputParser()).invoke({"topic": "why the sky is blue"}))

    # 2. A multi-turn conversation: earlier turns reach every TPO prompt as context.
    history: list[BaseMessage] = [SystemMessage("You are a friendly cooking assistant.")]
    for question in ["I have eggs and spinach.", "What can I make for breakfast?"]:
        history.append(HumanMessage(question))
        reply = model.invoke(history)
        history.append(reply)
        print(
            f"\nUser: {question}\nAssistant (reward {reply.response_metadata['tpo_score']:+.2f}):"
        )
        print(reply.text)


if __name__ == "__main__":
    main()
