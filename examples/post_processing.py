"""TPO as the post-processing step of an LCEL chain: `prompt | llm | refine`.

The first model's answer seeds TPO's cache as a draft, so TPO returns it unchanged unless a
sample or rewrite scores higher with the reward model.

Run: python examples/post_processing.py
"""

from __future__ import annotations

from typing import Any

from _models import SMALL, default_models
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda, RunnableParallel

from langchain_tpo import TPOChain, TPOResult


def main() -> None:
    policy, reward = default_models()
    prompt = ChatPromptTemplate.from_messages(
        [("human", "My neighbour's dog barks all night. What should I do about {problem}?")]
    )
    tpo = TPOChain(policy=policy, reward=reward, config=SMALL)

    def as_tpo_input(inputs: dict[str, Any]) -> dict[str, Any]:
        """The question the draft answered, with the draft seeding TPO's cache."""
        messages = inputs["prompt"].to_messages()
        return {
            "query": messages[-1].text,
            "context": messages[:-1],
            "drafts": [inputs["draft"].text],
        }

    refine = RunnableLambda(as_tpo_input) | tpo
    chain = RunnableParallel(prompt=prompt, draft=prompt | policy) | refine

    result: TPOResult = chain.invoke({"problem": "the noise"})
    draft = result.candidates[0]
    print(f"Draft (reward {draft.score:+.3f}):\n{draft.text}\n")
    print(f"After TPO (reward {result.score:+.3f}; best by step {result.best_scores}):")
    print(result.response)


if __name__ == "__main__":
    main()
