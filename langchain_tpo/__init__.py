"""langchain-tpo: Test-Time Preference Optimization for LangChain and LangGraph.

Importing this package loads no model and imports no heavy ML library; vLLM, torch and
transformers are imported when a backend that needs them is first used.
"""

from langchain_tpo.chain import TPOChain
from langchain_tpo.chat_adapter import TPOChatModel
from langchain_tpo.config import TPOConfig
from langchain_tpo.graph import create_tpo_graph
from langchain_tpo.prompts import TPOPrompts
from langchain_tpo.state import Candidate, IterationRecord, TPOResult
from langchain_tpo.structured import AnswerSchema

__version__ = "0.1.0"

__all__ = [
    "AnswerSchema",
    "Candidate",
    "IterationRecord",
    "TPOChain",
    "TPOChatModel",
    "TPOConfig",
    "TPOPrompts",
    "TPOResult",
    "__version__",
    "create_tpo_graph",
]
