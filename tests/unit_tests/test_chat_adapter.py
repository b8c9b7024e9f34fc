from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.prompts import ChatPromptTemplate

from langchain_tpo import TPOChain, TPOChatModel, TPOConfig
from langchain_tpo.reward_models import FunctionReward
from langchain_tpo.testing import ScriptedChatModel


def make_model(policy: ScriptedChatModel) -> TPOChatModel:
    reward = FunctionReward(lambda q, r: float(len(r)))
    chain = TPOChain(
        policy=policy, reward=reward, config=TPOConfig(num_samples=2, max_iterations=1)
    )
    return TPOChatModel(chain=chain)


def test_reply_is_the_best_answer_with_metadata() -> None:
    policy = ScriptedChatModel()
    reply = make_model(policy).invoke([HumanMessage("hi"), AIMessage("hello"), HumanMessage("q")])
    assert isinstance(reply, AIMessage)
    metadata = reply.response_metadata
    assert metadata["tpo_score"] == float(len(reply.text))
    assert len(metadata["tpo_best_scores"]) == 2
    assert "hello" in policy.requests_for("critique")[0].messages[-1].text


async def test_stands_in_a_prompt_pipe() -> None:
    prompt = ChatPromptTemplate.from_messages([("human", "Tell me about {topic}")])
    reply = await (prompt | make_model(ScriptedChatModel())).ainvoke({"topic": "owls"})
    assert reply.text
    assert reply.response_metadata["tpo_stop_reason"] == "max_iterations"


def test_stop_sequences_cut_the_chosen_answer() -> None:
    reply = make_model(ScriptedChatModel()).invoke("q")
    full = reply.text
    word = full[len(full) // 2 :][:3]
    cut = make_model(ScriptedChatModel()).invoke("q", stop=[word])
    assert cut.text == full[: full.find(word)]
    assert cut.response_metadata["tpo_score"] == reply.response_metadata["tpo_score"]


def test_callbacks_reach_the_graph_nested_under_the_model_run() -> None:
    class Runs(BaseCallbackHandler):
        def __init__(self) -> None:
            self.model_run: UUID | None = None
            self.chains: list[tuple[str, UUID | None]] = []

        def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
            if self.model_run is None:  # the first is TPOChatModel; the policy's calls follow
                self.model_run = kwargs["run_id"]

        def on_chain_start(self, serialized: Any, inputs: Any, **kwargs: Any) -> None:
            self.chains.append((kwargs.get("name") or "", kwargs.get("parent_run_id")))

    runs = Runs()
    make_model(ScriptedChatModel()).invoke("q", config={"callbacks": [runs]})
    names = {name for name, _ in runs.chains}
    assert {"sample", "score", "critique", "suggest", "rewrite"} <= names
    assert runs.chains[0] == ("TPOChain", runs.model_run)
