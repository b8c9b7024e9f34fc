"""The TPO graph for LangGraph tooling (`langgraph dev`, LangGraph Server); see langgraph.json.

Importing this module loads no model: the policy and reward are factories the graph calls on its
first run. Set `TPO_POLICY` (a local path or hub id) and `TPO_BACKEND` (`transformers` or
`vllm`) to serve another policy; the default is the embedded SmolLM2-135M-Instruct.
"""

from __future__ import annotations

import os

from langchain_core.language_models import BaseChatModel

from langchain_tpo import TPOConfig, create_tpo_graph
from langchain_tpo.reward_models import RewardModel


def load_policy() -> BaseChatModel:
    """The policy named by TPO_POLICY / TPO_BACKEND, or the embedded default."""
    from langchain_tpo.chat_models import load_default_policy

    backend = os.environ.get("TPO_BACKEND", "transformers")
    model = os.environ.get("TPO_POLICY")
    return load_default_policy(backend=backend, **({"model": model} if model else {}))


def load_reward() -> RewardModel:
    """The embedded default reward model on the same backend."""
    from langchain_tpo.reward_models import load_default_reward

    return load_default_reward(backend=os.environ.get("TPO_BACKEND", "transformers"))


graph = create_tpo_graph(load_policy, load_reward, TPOConfig())
