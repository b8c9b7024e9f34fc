"""TPOChatModel: TPO behind the chat-model interface, for code that expects a chat model."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    BaseRunManager,
    CallbackManager,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from langchain_tpo.chain import TPOChain
from langchain_tpo.state import TPOResult


class TPOChatModel(BaseChatModel):
    """A chat model whose every reply is the best answer TPO found.

    Drop it in wherever a `BaseChatModel` is expected (a prompt pipe, a LangGraph node, a
    chatbot). The conversation's last human message is the query and earlier turns are
    context. The reply's `response_metadata` carries the reward (`tpo_score`), the best
    reward by iteration (`tpo_best_scores`) and why the loop stopped; the full `TPOResult`
    is in `generation_info["tpo_result"]`.

    Callbacks reach the chain, so a trace shows the TPO graph nested under this model's run.
    Stop sequences cut the chosen answer at the first one found, after it has been scored:
    the search itself is unchanged.

    Example:
        ```python
        from langchain_tpo import TPOChain, TPOChatModel

        model = TPOChatModel(chain=TPOChain(policy=policy, reward=reward))
        reply = model.invoke([("system", "Be kind."), ("human", "Rate my poem: ...")])
        reply.content, reply.response_metadata["tpo_score"]
        ```
    """

    chain: TPOChain
    """The TPO chain that answers."""

    @property
    def _llm_type(self) -> str:
        return "tpo"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "policy": self.chain.policy.get_name(),
            "reward": self.chain.reward.get_name(),
            **self.chain.config.model_dump(),
        }

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        callbacks = _child_callbacks(run_manager)
        return _chat_result(self.chain.invoke(messages, {"callbacks": callbacks}), stop)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        callbacks = _child_callbacks(run_manager)
        return _chat_result(await self.chain.ainvoke(messages, {"callbacks": callbacks}), stop)


def _child_callbacks(run_manager: BaseRunManager | None) -> CallbackManager | None:
    # LLM run managers have no get_child(); this is what chain run managers do in it.
    if run_manager is None:
        return None
    manager = CallbackManager(handlers=[], parent_run_id=run_manager.run_id)
    manager.set_handlers(run_manager.inheritable_handlers)
    manager.add_tags(run_manager.inheritable_tags)
    manager.add_metadata(run_manager.inheritable_metadata)
    return manager


def _cut_at_stop(text: str, stop: list[str] | None) -> str:
    cuts = [text.find(word) for word in stop or [] if word and word in text]
    return text[: min(cuts)] if cuts else text


def _chat_result(result: TPOResult, stop: list[str] | None) -> ChatResult:
    message = AIMessage(
        content=_cut_at_stop(result.response, stop),
        response_metadata={
            "tpo_score": result.score,
            "tpo_best_scores": result.best_scores,
            "tpo_stop_reason": result.stop_reason,
            "tpo_model_calls": result.model_calls,
        },
    )
    generation = ChatGeneration(message=message, generation_info={"tpo_result": result})
    return ChatResult(generations=[generation])
