"""Moved to `langchain_tpo._vllm_engine`, which the policy and the reward models share.

Kept so that code importing the old location keeps working.
"""

from langchain_tpo._vllm_engine import (
    CLOSE_WAIT_S,
    VLLM_MISSING,
    AsyncEngineRunner,
    EngineOwnership,
    EngineRunner,
    EventLoopThread,
    OfflineEngineRunner,
    make_runner,
    on_cpu,
    require_vllm,
    reuse_cpu_compile_cache,
    seeds_kill_engine,
    shutdown_llm,
)

__all__ = [
    "CLOSE_WAIT_S",
    "VLLM_MISSING",
    "AsyncEngineRunner",
    "EngineOwnership",
    "EngineRunner",
    "EventLoopThread",
    "OfflineEngineRunner",
    "make_runner",
    "on_cpu",
    "require_vllm",
    "reuse_cpu_compile_cache",
    "seeds_kill_engine",
    "shutdown_llm",
]
