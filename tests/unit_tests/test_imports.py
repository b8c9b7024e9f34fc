import subprocess
import sys

import langchain_tpo
from langchain_tpo import agents, chat_models, reward_models

EXPECTED_ALL = [
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


def test_all_imports() -> None:
    assert sorted(langchain_tpo.__all__) == sorted(EXPECTED_ALL)
    for name in langchain_tpo.__all__:
        assert getattr(langchain_tpo, name) is not None


def test_backend_exports() -> None:
    assert sorted(reward_models.__all__) == sorted(
        [
            "Combination",
            "CombinedReward",
            "FunctionReward",
            "HuggingFaceRewardModel",
            "LLMJudgeReward",
            "Pair",
            "Query",
            "RelevanceReward",
            "RemoteRewardModel",
            "Reward",
            "RewardModel",
            "RewardModelError",
            "RewardServerError",
            "SimilarityReward",
            "VLLMRewardModel",
            "load_default_reward",
            "query_text",
        ]
    )
    assert sorted(chat_models.__all__) == sorted(
        ["ChatOpenAICompatible", "ChatTransformers", "ChatVLLM", "load_default_policy"]
    )


def test_agents_exports() -> None:
    assert sorted(agents.__all__) == ["TPOMiddleware", "render_tool_turns", "tpo_input"]
    for name in agents.__all__:
        assert getattr(agents, name) is not None


def test_unknown_lazy_name_is_an_attribute_error() -> None:
    for module in (agents, chat_models, reward_models):
        try:
            module.NoSuchThing  # noqa: B018
        except AttributeError as e:
            assert "NoSuchThing" in str(e)
        else:
            raise AssertionError("expected AttributeError")


def test_import_is_light() -> None:
    code = (
        "import sys, langchain_tpo, langchain_tpo.chat_models, langchain_tpo.reward_models;"
        "import langchain_tpo.chain, langchain_tpo.graph, langchain_tpo.agents;"
        "heavy = [m for m in ('torch', 'transformers', 'vllm', 'langchain') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_command_line_does_not_load_the_server_stack() -> None:
    """`tpo run`, `tpo eval`... parse their flags without importing what `tpo serve` needs."""
    code = (
        "import sys; from langchain_tpo.cli import build_parser; build_parser();"
        "heavy = ('starlette', 'uvicorn', 'prometheus_client', 'fastapi', 'openai', 'torch');"
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
