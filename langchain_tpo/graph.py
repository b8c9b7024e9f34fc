"""create_tpo_graph: the TPO loop as a LangGraph state machine.

```
START -> sample -> score -> (router) -> critique -> suggest -> rewrite -> score -> ...
                                    \\-> END
```
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableLambda
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import RetryPolicy

from langchain_tpo.config import TPOConfig
from langchain_tpo.nodes import TPONodes
from langchain_tpo.prompts import TPOPrompts
from langchain_tpo.reward_models.base import RewardModel
from langchain_tpo.state import TPOInput, TPOState

# Model and reward calls can fail for transient reasons (a server restarting, a timeout);
# LangGraph's default predicate retries those and not programming errors.
_RETRY = RetryPolicy(max_attempts=3, initial_interval=1.0)


def route_after_score(state: TPOState) -> Literal["critique", "__end__"]:
    """Loop into another iteration unless the score node recorded a reason to stop."""
    return "__end__" if state.get("stop_reason") else "critique"


def supersteps_needed(max_iterations: int) -> int:
    """LangGraph supersteps of a run of D iterations: sample and score, then four per iteration."""
    return 2 + 4 * max_iterations


def create_tpo_graph(
    policy: BaseChatModel | Callable[[], BaseChatModel],
    reward: RewardModel | Callable[[], RewardModel],
    config: TPOConfig | None = None,
    checkpointer: BaseCheckpointSaver | bool | None = None,
    *,
    prompts: TPOPrompts | None = None,
    name: str = "tpo",
) -> CompiledStateGraph:
    """Build the compiled TPO graph.

    Args:
        policy: The chat model that samples, critiques, suggests and rewrites; or a
            zero-argument function returning one, called on first use (keeps model loading
            out of import time, as `graphs/tpo.py` does).
        reward: The reward model scoring (query, response) pairs; or a factory of one.
        config: Run settings; each field can be overridden per call through
            `config={"configurable": {...}}`.
        checkpointer: Passed to `compile()`, e.g. `InMemorySaver()`.
        prompts: Replacement prompts.
        name: Name of the compiled graph.

    Returns:
        A compiled graph. Invoke it with `{"query": str, "context"?: [...], "drafts"?: [...]}`;
        the final state holds the scored cache (`candidates`), `history` and counts, and
        `TPOResult.from_state(state)` turns it into a result. Progress events stream in the
        `custom` stream mode.

    Example:
        ```python
        from langchain_tpo import create_tpo_graph, TPOConfig, TPOResult

        graph = create_tpo_graph(policy, reward, TPOConfig(num_samples=4, max_iterations=2))
        for mode, chunk in graph.stream({"query": "..."}, stream_mode=["custom", "values"]):
            if mode == "custom":
                print(chunk)  # {"event": "tpo.progress", "iteration": 0, "best_score": ...}
        ```
    """
    nodes = TPONodes(policy, reward, config or TPOConfig(), prompts or TPOPrompts())
    builder = StateGraph(TPOState, input_schema=TPOInput)

    def add(name: str, func: Callable, afunc: Callable) -> None:
        builder.add_node(name, RunnableLambda(func, afunc=afunc, name=name), retry_policy=_RETRY)

    add("sample", nodes.sample, nodes.asample)
    add("score", nodes.score, nodes.ascore)
    add("critique", nodes.critique, nodes.acritique)
    add("suggest", nodes.suggest, nodes.asuggest)
    add("rewrite", nodes.rewrite, nodes.arewrite)
    builder.add_edge(START, "sample")
    builder.add_edge("sample", "score")
    builder.add_conditional_edges("score", route_after_score, ["critique", END])
    builder.add_edge("critique", "suggest")
    builder.add_edge("suggest", "rewrite")
    builder.add_edge("rewrite", "score")
    return builder.compile(checkpointer=checkpointer, name=name)
