"""`tpo run "query"`: answer one query with TPO, showing progress and the score trajectory."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from pydantic import ValidationError

from langchain_tpo._redact import redact_text
from langchain_tpo.chain import TPOChain
from langchain_tpo.cli import models
from langchain_tpo.cli.errors import CLIError, describe_failure, one_line
from langchain_tpo.cli.interactive import TerminalReviewer
from langchain_tpo.config import TPOConfig
from langchain_tpo.inputs import coerce_input
from langchain_tpo.review import REVIEW_POINTS
from langchain_tpo.state import TPOResult


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "run",
        help="answer a query with TPO",
        description="Answer a query with TPO and print the answer with its reward by iteration.",
        epilog="Exit status: 0 answered (also when --run-timeout cut the run short); 1 failed "
        "(the best answer found before the failure is still printed, and the reason on "
        "stderr); 2 bad input.",
    )
    parser.add_argument("query", help="the question or instruction ('-' reads it from stdin)")
    parser.add_argument(
        "--mode",
        choices=("tpo", "revision", "bon"),
        default="tpo",
        help="tpo (default), "
        "revision (critique the best answer alone) or bon (best of N, no iterations)",
    )
    # 96: an answer within 90 s on an idle 2-core machine (benchmarks/RESULTS.md, "Start-up").
    models.add_sampling_arguments(parser, max_tokens=96)
    models.add_model_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the whole result as JSON")
    parser.add_argument(
        "--interactive",
        "-i",
        action="store_true",
        help="review each iteration yourself: pick the chosen and rejected answers, write the "
        "critique, edit the suggestions (questions on stderr, answers from stdin)",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    parser.set_defaults(handler=run)


def config_from_args(args: argparse.Namespace, mode: str | None = None) -> TPOConfig:
    """TPOConfig from the flags, with the config's own message on a bad value."""
    fields = {
        "num_samples": args.samples,
        "max_iterations": args.iterations,
        "mode": mode or args.mode,
        "max_tokens": args.max_tokens,
        "temperature": args.temperature,
        "seed": args.seed,
    }
    # Limits, where the command has the flags (--timeout, --run-timeout, --retries).
    for flag, field in (
        ("timeout", "request_timeout_s"),
        ("run_timeout", "timeout_s"),
        ("retries", "max_retries"),
    ):
        if hasattr(args, flag):
            fields[field] = getattr(args, flag)
    try:
        return TPOConfig.model_validate(fields)
    except ValidationError as e:
        problems = "; ".join(err["msg"].removeprefix("Value error, ") for err in e.errors())
        raise CLIError(problems) from None
    except ValueError as e:
        raise CLIError(str(e)) from None


class Progress:
    """Progress lines on stderr, stamped with the time since start."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.start = time.perf_counter()

    def say(self, text: str) -> None:
        if not self.quiet:
            print(f"[{time.perf_counter() - self.start:6.1f}s] {text}", file=sys.stderr, flush=True)

    def event(self, event: dict[str, Any], max_iterations: int) -> None:
        kind, iteration = event.get("event"), event.get("iteration", -1)
        step = "samples" if iteration < 0 else f"iteration {iteration + 1} of {max_iterations}"
        if kind == "tpo.stage":
            doing = {
                "sample": "sampling answers",
                "critique": "critique (textual loss)",
                "suggest": "suggestions (textual gradient)",
                "rewrite": "rewriting (update)",
            }.get(event["stage"], event["stage"])
            self.say(f"{step}: {doing}...")
        elif kind == "tpo.progress":
            best = event.get("best_score")
            best_text = f"{best:+.3f}" if best is not None else "none"
            self.say(f"{step}: scored {len(event.get('scores', []))}, best so far {best_text}")


def run(args: argparse.Namespace) -> int:
    query = sys.stdin.read() if args.query == "-" else args.query
    config = config_from_args(args)
    try:
        graph_input = coerce_input(query)
    except ValueError as e:
        raise CLIError(str(e)) from None
    progress = Progress(args.quiet)
    state: dict[str, Any] = {}
    failure: str | None = None
    with models.loaded_models(args, progress.say) as (policy, reward):
        review = REVIEW_POINTS if args.interactive else ()
        chain = TPOChain(
            policy=policy,
            reward=reward,
            config=config,
            checkpointer=InMemorySaver() if review else None,
            human_review=review,
        )
        reviewer = TerminalReviewer()
        run_config = chain.run_config({"configurable": {"thread_id": "tpo-run"}})
        next_input: Any = graph_input
        try:
            while next_input is not None:
                pause = None
                stream = chain.graph.stream(
                    next_input, run_config, stream_mode=["custom", "values", "updates"]
                )
                for mode, chunk in stream:
                    assert isinstance(chunk, dict)
                    if mode == "custom":
                        progress.event(dict(chunk), config.max_iterations)
                    elif mode == "values":
                        state = dict(chunk)
                    elif "__interrupt__" in chunk:
                        pause = chunk["__interrupt__"][0].value
                next_input = Command(resume=reviewer.decide(pause)) if pause is not None else None
        except Exception as e:
            if not state.get("candidates"):
                raise  # nothing to show: main reports the error
            # The answers scored so far are worth keeping: show the best one and why it stopped.
            failure = describe_failure(e, models.secrets_of(args))
    result = TPOResult.from_state(state)
    if failure is not None:
        result = result.model_copy(update={"stop_reason": "failed"})
    reason = failure or _early_stop_reason(result, models.secrets_of(args))
    seconds = time.perf_counter() - progress.start
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        print(render(result, seconds))
    if reason is not None:
        print(f"tpo run: stopped early ({result.stop_reason}): {reason}", file=sys.stderr)
    # A deadline the user set is not a failure; a stage that failed is, even with an answer.
    return 0 if result.score is not None and result.stop_reason not in _FAILED else 1


_FAILED = frozenset({"failed", "stage_failed"})
_EARLY = frozenset({"stage_failed", "timeout"})


def _early_stop_reason(result: TPOResult, secrets: list[str]) -> str | None:
    """The one-line reason a run ended before its iterations were done, if it did."""
    if result.stop_reason not in _EARLY:
        return None
    error = getattr(result, "error", None)  # set by the loop with these stop reasons
    if error:
        return one_line(redact_text(str(error), secrets))
    if result.stop_reason == "timeout":
        return "the run's time limit (--run-timeout) ran out"
    return "a stage failed"


def render(result: TPOResult, seconds: float) -> str:
    """The answer, then a compact table of the reward by iteration."""
    lines = []
    if result.score is None:
        lines.append("No usable answer was produced.")
    else:
        best = next(c for c in result.candidates if c.text == result.response)
        where = "the initial samples" if best.iteration < 0 else f"iteration {best.iteration + 1}"
        lines += [f"Answer (reward {result.score:+.3f}, from {where}):", "", result.response, ""]
        if best.components:
            parts = " · ".join(f"{k} {v:+.3f}" for k, v in best.components.items())
            lines += [f"reward parts (raw, before their weights): {parts}"]
    lines.append(f"{'step':<14}{'answers':>8}{'best of step':>14}{'best so far':>13}")
    for k, so_far in enumerate(result.best_scores):
        scores = [c.score for c in result.candidates if c.iteration == k - 1]
        name = "samples" if k == 0 else f"iteration {k}"
        step_best = f"{max(scores):+.3f}" if scores else "-"
        lines.append(f"{name:<14}{len(scores):>8}{step_best:>14}{so_far:>+13.3f}")
    lines.append(
        f"stopped: {result.stop_reason} · {result.model_calls} model requests · "
        f"{result.lead_ins} lead-in lines cut · "
        f"{result.scaffold_cuts} with scaffolding paragraphs cut · "
        f"{result.prompt_echoes} cut at an echoed prompt · {result.empty_outputs} empty · "
        f"{result.failures} failed · {seconds:.1f} s"
    )
    dropped = [
        (result.thinking_cutoffs, "out of tokens while thinking"),
        (result.invalid_outputs, "not fitting the answer schema"),
    ]
    lines += [f"not scored: {count} {why}" for count, why in dropped if count]
    lines += [f"warning: {w}" for w in result.warnings]
    return "\n".join(lines)
