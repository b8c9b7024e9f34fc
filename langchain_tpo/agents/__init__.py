"""TPO in agents: a final-answer middleware for LangChain agents, and agent conversations as
TPO input.

- `TPOMiddleware`: add it to `langchain.agents.create_agent(..., middleware=[...])` and the
  agent's final answer (on any model) is refined by TPO, with the conversation as context.
  Needs `langchain` (`pip install "langchain-tpo[agents]"`).
- `tpo_input` / `render_tool_turns`: how a conversation with tool calls and tool results
  reaches TPO's prompts and a policy without tools.

For an agent whose model itself is TPO, use `TPOChatModel(...).bind_tools(tools)` (what
`create_agent` and `create_react_agent` do): tool calls pass through, final answers are refined.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_tpo.agents.conversation import render_tool_turns, tpo_input

if TYPE_CHECKING:
    from langchain_tpo.agents.middleware import TPOMiddleware

__all__ = ["TPOMiddleware", "render_tool_turns", "tpo_input"]


def __getattr__(name: str) -> Any:
    # The middleware imports `langchain` (an optional dependency); load it on first use.
    if name == "TPOMiddleware":
        from langchain_tpo.agents.middleware import TPOMiddleware

        return TPOMiddleware
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
