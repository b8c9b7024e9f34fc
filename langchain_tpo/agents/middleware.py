"""TPOMiddleware: a LangChain agent's final answer, refined by TPO."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from typing import Any

from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.messages.ai import add_usage

from langchain_tpo.chain import TPOChain
from langchain_tpo.chat_adapter import TPOChatModel
from langchain_tpo.config import TPOConfig
from langchain_tpo.prompts import TPOPrompts
from langchain_tpo.reward_models.base import RewardModel

__all__ = ["TPOMiddleware"]


class TPOMiddleware(AgentMiddleware):
    """Refine an agent's final answer with TPO, on any model.

    Every model call of the agent runs as usual; when the reply is a final answer (no tool
    calls, no structured response), TPO refines it: the conversation so far (system prompt,
    messages, tool calls and tool results, rendered as text for the policy) is the context,
    the reply seeds TPO's cache as a draft, and the policy samples, critiques and rewrites
    without tools. The refined answer takes the reply's place in the agent's state, with the
    reward (`tpo_score`) and the best reward by iteration (`tpo_best_scores`) in its
    `response_metadata` and the tokens of TPO's requests added to its `usage_metadata`.
    The draft stays the answer unless a sample or rewrite scores higher. In the agent's
    `messages` stream the model's reply comes first, then the refined answer (TPO's own
    requests are left out); the `custom` stream carries TPO's progress events.

    Per-run settings: TPOConfig fields in the agent's `configurable`
    (`agent.invoke(..., config={"configurable": {"num_samples": 3}})`) override `config`.

    Example:
        ```python
        from langchain.agents import create_agent

        from langchain_tpo import TPOConfig
        from langchain_tpo.agents import TPOMiddleware

        agent = create_agent(
            model,  # any chat model; it also drafts the answer and, by default, runs TPO
            tools=[search],
            middleware=[TPOMiddleware(reward=reward, config=TPOConfig(num_samples=4))],
        )
        state = agent.invoke({"messages": [("human", "...")]})
        state["messages"][-1].response_metadata["tpo_best_scores"]
        ```
    """

    def __init__(
        self,
        reward: RewardModel,
        config: TPOConfig | None = None,
        policy: BaseChatModel | None = None,
        *,
        prompts: TPOPrompts | None = None,
        return_full_result: bool = False,
    ) -> None:
        """Set up the refinement.

        Args:
            reward: The reward model that scores answers.
            config: TPO settings (N, D, sampling...); TPOConfig() when None.
            policy: The model TPO samples, critiques and rewrites with; None: the agent's own
                model at each call (without its tools).
            prompts: Replacement TPO prompts.
            return_full_result: Also put the whole TPOResult (a dict) into the answer's
                `response_metadata["tpo_result"]`.
        """
        super().__init__()
        if not isinstance(reward, RewardModel):
            msg = (
                f"reward must be a langchain_tpo RewardModel, got {type(reward).__name__}; wrap "
                "a function with FunctionReward(fn)."
            )
            raise TypeError(msg)
        self.reward = reward
        self.config = config or TPOConfig()
        self.policy = policy
        self.prompts = prompts or TPOPrompts()
        self.return_full_result = return_full_result
        self._models: dict[int, tuple[BaseChatModel, TPOChatModel]] = {}
        self._lock = threading.Lock()

    def wrap_model_call(
        self,
        request: ModelRequest,
        handler: Callable[[ModelRequest], ModelResponse],
    ) -> ModelResponse:
        response = _as_response(handler(request))
        found = _final_answer(response)
        if found is None:
            return response
        index, draft = found
        refined = self._tpo_model(request).invoke(_conversation(request), drafts=[draft.text])
        return _replaced(response, index, draft, refined)

    async def awrap_model_call(
        self,
        request: ModelRequest,
        handler: Callable[[ModelRequest], Awaitable[ModelResponse]],
    ) -> ModelResponse:
        response = _as_response(await handler(request))
        found = _final_answer(response)
        if found is None:
            return response
        index, draft = found
        model = self._tpo_model(request)
        refined = await model.ainvoke(_conversation(request), drafts=[draft.text])
        return _replaced(response, index, draft, refined)

    def _tpo_model(self, request: ModelRequest) -> TPOChatModel:
        """A TPOChatModel over the policy, built once per policy."""
        policy = self.policy or request.model
        with self._lock:
            known = self._models.get(id(policy))
            if known is not None and known[0] is policy:
                return known[1]
            chain = TPOChain(
                policy=policy, reward=self.reward, config=self.config, prompts=self.prompts
            )
            model = TPOChatModel(chain=chain, return_full_result=self.return_full_result)
            self._models[id(policy)] = (policy, model)
            return model


def _as_response(result: Any) -> ModelResponse:
    return ModelResponse(result=[result]) if isinstance(result, AIMessage) else result


def _final_answer(response: ModelResponse) -> tuple[int, AIMessage] | None:
    """The reply's answer message and its position, if the reply is a final text answer."""
    if response.structured_response is not None:
        return None
    for index in range(len(response.result) - 1, -1, -1):
        message = response.result[index]
        if isinstance(message, AIMessage):
            if message.tool_calls or message.invalid_tool_calls:
                return None
            if "tpo_score" in message.response_metadata:  # already TPO's answer
                return None
            return index, message
    return None


def _conversation(request: ModelRequest) -> list[BaseMessage]:
    system = getattr(request, "system_message", None)
    return [system, *request.messages] if system is not None else list(request.messages)


def _replaced(
    response: ModelResponse, index: int, draft: AIMessage, refined: AIMessage
) -> ModelResponse:
    usage = refined.usage_metadata
    if draft.usage_metadata and usage:
        usage = add_usage(draft.usage_metadata, usage)
    answer = AIMessage(
        content=refined.content,
        id=refined.id,
        name=draft.name,
        response_metadata={**draft.response_metadata, **refined.response_metadata},
        usage_metadata=usage or draft.usage_metadata,
    )
    result = list(response.result)
    result[index] = answer
    return ModelResponse(result=result, structured_response=response.structured_response)
