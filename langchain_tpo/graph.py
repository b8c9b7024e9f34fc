"""create_tpo_graph: the TPO loop as a LangGraph state machine.

```
START -> prepare -> sample -> score -> critique -> suggest -> rewrite -> score -> ...
                                  \\          \\          \\         \\
                                   +----------+----------+---------+--> finish -> END
```

`prepare` starts a clean run (a new input on a thread never sees the last run's cache),
`finish` records the answer and adds the turn to the thread's conversation. Any stage that
records a `stop_reason` (the loop is done, the deadline passed, a stage failed) goes to
`finish`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from langchain_core.runnables import Runnable
from langgraph._internal._runnable import RunnableCallable
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from langchain_tpo.config import TPOConfig, TPOContext
from langchain_tpo.nodes import TPONodes
from langchain_tpo.prompts import TPOPrompts
from langchain_tpo.review import ReviewPoint, check_review_points
from langchain_tpo.reward_models.base import RewardModel
from langchain_tpo.state import TPOInput, TPOOutput, TPOState
from langchain_tpo.structured import AnswerSchema

NODES = ("prepare", "sample", "score", "critique", "suggest", "rewrite", "finish")


def _next(after: str, then: str) -> Callable[[TPOState], str]:
    def route(state: TPOState) -> str:
        return "finish" if state.get("stop_reason") else then

    route.__name__ = f"after_{after}"
    return route


def route_after_score(state: TPOState) -> Literal["critique", "finish"]:
    """Loop into another iteration unless a stop reason was recorded."""
    return "finish" if state.get("stop_reason") else "critique"


def supersteps_needed(max_iterations: int) -> int:
    """LangGraph supersteps of a run of D iterations: prepare, sample, score and finish, then
    four per iteration."""
    return 4 + 4 * max_iterations


def create_tpo_graph(
    policy: Runnable | Callable[[], Runnable],
    reward: RewardModel | Callable[[], RewardModel],
    config: TPOConfig | None = None,
    checkpointer: BaseCheckpointSaver | bool | None = None,
    *,
    prompts: TPOPrompts | None = None,
    human_review: Sequence[ReviewPoint] = (),
    answer_schema: AnswerSchema | Any = None,
    name: str = "tpo",
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Build the compiled TPO graph.

    Args:
        policy: The chat model that samples, critiques, suggests and rewrites (any chat-model
            Runnable: `.bind(...)`, `.with_retry()`...); or a zero-argument function returning
            one, called on first use in a worker thread (keeps model loading out of import time
            and off the event loop, as `graphs/tpo.py` does).
        reward: The reward model scoring (query, response) pairs; or a factory of one.
        config: Default run settings. Each field can be overridden per run through the run
            context (`context={"num_samples": 3}`, the graph's `context_schema` is
            `TPOContext`) or `config={"configurable": {...}}`.
        checkpointer: Passed to `compile()`, e.g. `InMemorySaver()`. With one, a thread is a
            conversation: each new input starts a clean run whose context holds the thread's
            earlier queries and answers; `invoke(None, config)` resumes an interrupted run.
        prompts: Replacement prompts.
        human_review: Review points where the graph pauses for a person (`"critique"`,
            `"rewrite"`; see `langchain_tpo.review`). Needs a checkpointer.
        answer_schema: The schema answers must follow (a pydantic model, a TypedDict, a JSON
            schema, or an `AnswerSchema` saying how to ask for it and what the reward reads).
            Samples and rewrites are then asked for in the schema and validated; the answer is
            the best object's JSON text (`TPOResult.from_state(output, answer_schema=...)`
            gives the object).
        name: Name of the compiled graph.

    Returns:
        A compiled graph. Invoke it with `{"query": str, "context"?: [...], "drafts"?: [...]}`;
        it returns the answer, its score, the scored cache (`candidates`), `history`, counts
        and `stop_reason`; `TPOResult.from_state(output)` turns that into a result. Progress
        events stream in the `custom` stream mode and as callback custom events.

    Example:
        ```python
        from langchain_tpo import create_tpo_graph, TPOConfig

        graph = create_tpo_graph(policy, reward, TPOConfig(num_samples=4, max_iterations=2))
        for mode, chunk in graph.stream({"query": "..."}, stream_mode=["custom", "values"]):
            if mode == "custom":
                print(chunk)  # {"event": "tpo.progress", "iteration": 0, "best_score": ...}
        ```
    """
    points = check_review_points(human_review)
    if points and checkpointer in (None, False):
        msg = (
            "human_review pauses the graph with interrupt(), which needs a checkpointer: pass "
            "checkpointer=InMemorySaver() (or a SqliteSaver to resume in another process)."
        )
        raise ValueError(msg)
    nodes = TPONodes(
        policy,
        reward,
        config or TPOConfig(),
        prompts or TPOPrompts(),
        points,
        AnswerSchema.of(answer_schema),
    )
    builder = StateGraph(
        TPOState, context_schema=TPOContext, input_schema=TPOInput, output_schema=TPOOutput
    )

    def add(name: str, func: Callable[..., Any], afunc: Callable[..., Any]) -> None:
        # trace=False: the node's own run is the one LangGraph records; no second run inside.
        builder.add_node(name, RunnableCallable(func, afunc, name=name, trace=False))

    add("prepare", nodes.prepare, nodes.aprepare)
    add("sample", nodes.sample, nodes.asample)
    add("score", nodes.score, nodes.ascore)
    add("critique", nodes.critique, nodes.acritique)
    add("suggest", nodes.suggest, nodes.asuggest)
    add("rewrite", nodes.rewrite, nodes.arewrite)
    add("finish", nodes.finish, nodes.afinish)
    builder.add_edge(START, "prepare")
    builder.add_edge("prepare", "sample")
    builder.add_edge("sample", "score")
    builder.add_conditional_edges("score", route_after_score, ["critique", "finish"])
    builder.add_conditional_edges("critique", _next("critique", "suggest"), ["suggest", "finish"])
    builder.add_conditional_edges("suggest", _next("suggest", "rewrite"), ["rewrite", "finish"])
    builder.add_conditional_edges("rewrite", _next("rewrite", "score"), ["score", "finish"])
    builder.add_edge("finish", END)
    return builder.compile(checkpointer=checkpointer, name=name)
