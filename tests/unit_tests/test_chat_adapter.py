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
