"""The default models every example runs on, with settings small enough for a laptop CPU.

Set TPO_BACKEND=vllm to run the examples on in-process vLLM instead of transformers.
"""

from __future__ import annotations

import atexit
import os

from langchain_core.language_models import BaseChatModel

from langchain_tpo import TPOConfig
from langchain_tpo.chat_models import load_default_policy
from langchain_tpo.cli.models import quiet_libraries
from langchain_tpo.reward_models import RewardModel, load_default_reward

# Keep the libraries' advisory warnings out of the examples' output, as the tpo command does.
quiet_libraries()

BACKEND = os.environ.get("TPO_BACKEND", "transformers")
SMALL = TPOConfig(num_samples=3, max_iterations=1, max_tokens=96, seed=0)
"""N=3, D=1, 96 tokens: a minute or two per query on two CPU cores."""


def default_models() -> tuple[BaseChatModel, RewardModel]:
    """The embedded SmolLM2-135M policy and harmlessness reward model.

    On vLLM both own an engine; they are shut down at exit (`close()`), before vLLM's own exit
    handlers would report the engines' deaths as crashes.
    """
    policy, reward = load_default_policy(backend=BACKEND), load_default_reward(backend=BACKEND)
    for model in (policy, reward):
        close = getattr(model, "close", None)
        if close is not None:
            atexit.register(close)
    return policy, reward
