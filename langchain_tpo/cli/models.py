"""Build the policy and reward the `tpo` command runs on, from its flags."""

from __future__ import annotations

import argparse
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal, TypeVar

from langchain_core.language_models import BaseChatModel

from langchain_tpo.cli.errors import CLIError
from langchain_tpo.reward_models.base import RewardModel

T = TypeVar("T")


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags choosing the policy and the reward model."""
    group = parser.add_argument_group("models (default: the embedded SmolLM2-135M models)")
    group.add_argument(
        "--policy",
        metavar="PATH_OR_ID",
        help="policy model: a local Hugging Face directory or a hub id",
    )
    group.add_argument(
        "--backend",
        choices=("transformers", "vllm"),
        default="transformers",
        help="how local models run: transformers, or in-process vLLM (default: transformers)",
    )
    group.add_argument(
        "--server-url",
        metavar="URL",
        help="an OpenAI-compatible server for the policy, such as `vllm serve` "
        "(e.g. http://127.0.0.1:8000/v1)",
    )
    group.add_argument(
        "--server-model",
        metavar="NAME",
        help="model name on the server (default: the first one it lists)",
    )
    group.add_argument(
        "--reward",
        metavar="PATH_OR_ID",
        help="reward model: a sequence-classifier directory or hub id, or 'judge' to have the "
        "policy rate answers (default: the embedded harmlessness reward model)",
    )


def describe_policy(args: argparse.Namespace) -> str:
    """A short name of the policy the flags choose (recorded in results)."""
    if args.server_url:
        return f"{args.server_model or 'server'}@{args.server_url}"
    return f"{args.policy or 'default'} ({args.backend})"


def describe_reward(args: argparse.Namespace) -> str:
    """A short name of the reward the flags choose (recorded in results)."""
    backend = "transformers" if args.server_url else args.backend
    return f"{args.reward or 'default'} ({backend})"


# Library chatter (weight-loading bars, INFO logs) would bury the command's own progress lines.
# Set before the libraries are imported; a user's own settings win.
_QUIET_LIBRARIES = {
    "TRANSFORMERS_VERBOSITY": "error",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "VLLM_LOGGING_LEVEL": "ERROR",  # its CPU backend warns of every weight it casts
    "VLLM_LOGGING_STREAM": "ext://sys.stderr",  # stdout is the answer (or --json)
    "VLLM_CONFIGURE_LOGGING": "1",
}


def quiet_libraries() -> None:
    """Keep transformers and vLLM to warnings and errors, unless the user chose otherwise."""
    for name, value in _QUIET_LIBRARIES.items():
        os.environ.setdefault(name, value)


def timed(label: str, load: Callable[[], T], say: Callable[[str], None]) -> T:
    """Run `load`, telling the user what is loading and how long it took."""
    quiet_libraries()
    say(f"Loading {label}...")
    start = time.perf_counter()
    value = load()
    say(f"Loaded {label} in {time.perf_counter() - start:.1f} s.")
    return value


@contextmanager
def loaded_models(
    args: argparse.Namespace, say: Callable[[str], None]
) -> Iterator[tuple[BaseChatModel, RewardModel]]:
    """The policy and reward the flags choose; engines they started are shut down on exit.

    Closing them before the interpreter exits keeps vLLM from reporting its own shutdown as a
    dead engine.
    """
    policy = timed("the policy model", lambda: load_policy(args), say)
    try:
        reward = timed("the reward model", lambda: load_reward(args, policy), say)
        try:
            yield policy, reward
        finally:
            _close(reward)
    finally:
        _close(policy)


def _close(model: object) -> None:
    close = getattr(model, "close", None)
    if callable(close):
        close()


def torch_threads(cores: int | None = None, load: float | None = None) -> int:
    """Threads for torch in this process: every core on an idle machine, else the free ones.

    A multi-threaded torch waits for its slowest thread at every operator. On cores that other
    processes keep busy that thread is often descheduled, and two threads decoded SmolLM2-135M
    many times slower than one (benchmarks/RESULTS.md, "Start-up"). Busy means a 1-minute load
    average of half the cores or more; then torch gets the cores left free, at least one.
    """
    cores = cores or os.cpu_count() or 1
    load = os.getloadavg()[0] if load is None else load
    if load < cores / 2:
        return cores
    return max(1, min(cores, int(cores - load)))


def _set_torch_threads() -> None:
    """Apply `torch_threads` to local transformers models, unless OMP_NUM_THREADS is set."""
    if os.environ.get("OMP_NUM_THREADS"):
        return
    try:
        import torch
    except ImportError:  # the loader says what to install
        return
    torch.set_num_threads(torch_threads())


def load_policy(args: argparse.Namespace) -> BaseChatModel:
    """The policy chosen by --server-url, --policy/--backend, or the embedded default."""
    if args.server_url:
        return _server_policy(args.server_url.rstrip("/"), args.server_model)
    from langchain_tpo.chat_models import load_default_policy

    if args.backend == "transformers":
        _set_torch_threads()
    kwargs: dict[str, Any] = {"backend": args.backend}
    if args.policy:
        kwargs["model"] = args.policy
    try:
        return load_default_policy(**kwargs)
    except (FileNotFoundError, ImportError, ValueError, OSError) as e:
        raise CLIError(f"could not load the policy: {e}", exit_code=1) from e


def load_reward(args: argparse.Namespace, policy: BaseChatModel) -> RewardModel:
    """The reward chosen by --reward, or the embedded default on the same backend."""
    backend: Literal["transformers", "vllm"] = "transformers" if args.server_url else args.backend
    if backend == "transformers" and args.reward != "judge":
        _set_torch_threads()
    try:
        if args.reward == "judge":
            from langchain_tpo.reward_models import LLMJudgeReward

            return LLMJudgeReward(judge=policy)
        if args.reward:
            from langchain_tpo.reward_models import HuggingFaceRewardModel, VLLMRewardModel

            if backend == "vllm":
                return VLLMRewardModel.from_model_id(args.reward)
            return HuggingFaceRewardModel.from_model_id(args.reward)
        from langchain_tpo.reward_models import load_default_reward

        return load_default_reward(backend=backend)
    except (FileNotFoundError, ImportError, ValueError, OSError) as e:
        raise CLIError(f"could not load the reward model: {e}", exit_code=1) from e


def _server_policy(url: str, model: str | None) -> BaseChatModel:
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as e:
        msg = 'A --server-url policy needs langchain-openai: pip install "langchain-tpo[openai]"'
        raise CLIError(msg) from e
    if model is None:
        model = _first_served_model(url)
    return ChatOpenAI(base_url=url, model=model, api_key="EMPTY", max_retries=2)  # type: ignore[arg-type]


def _first_served_model(url: str) -> str:
    try:
        with urllib.request.urlopen(f"{url}/models", timeout=10) as response:
            listing = json.load(response)
        return str(listing["data"][0]["id"])
    except (urllib.error.URLError, OSError) as e:
        msg = f"no server answers at {url} ({e}). Start it, or check --server-url (it ends in /v1)."
        raise CLIError(msg, exit_code=1) from e
    except (KeyError, IndexError, ValueError) as e:
        msg = f"the server at {url} lists no model; pass --server-model NAME."
        raise CLIError(msg, exit_code=1) from e


def add_sampling_arguments(parser: argparse.ArgumentParser, *, max_tokens: int) -> None:
    """Flags of the TPO loop shared by run and eval."""
    group = parser.add_argument_group("TPO settings")
    group.add_argument("--samples", "-n", type=int, default=5, help="N samples per step (5)")
    group.add_argument("--iterations", "-d", type=int, default=2, help="D iterations (2)")
    group.add_argument(
        "--max-tokens", type=int, default=max_tokens, help=f"tokens per answer ({max_tokens})"
    )
    group.add_argument("--temperature", type=float, default=0.7, help="sampling temperature (0.7)")
    group.add_argument("--seed", type=int, default=0, help="seed, for repeatable runs (0)")
