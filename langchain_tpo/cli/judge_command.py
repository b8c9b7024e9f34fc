"""`tpo judge RESULTS (--against OTHER | --reference | --refusal) --out VERDICTS.jsonl`.

Compares two runs' answers prompt by prompt with an LLM judge (both presentation orders),
or a run's answers with the references its rows carry, or classifies each answer as a
compliance or a refusal (XSTest). Verdicts are appended and resumable like `tpo eval`; the
format is documented in `langchain_tpo.evaluation.verdicts`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from langchain_tpo.cli import models
from langchain_tpo.cli.errors import CLIError
from langchain_tpo.cli.progress_bar import ProgressBar
from langchain_tpo.evaluation import pairwise_judge, refusal_judge
from langchain_tpo.evaluation.judging import (
    NOT_JUDGED_TOO_LONG,
    Answer,
    judge_items,
    read_answers,
)
from langchain_tpo.evaluation.pairwise_judge import Pair, PairwiseJudge
from langchain_tpo.evaluation.refusal_judge import RefusalJudge, Response
from langchain_tpo.evaluation.verdicts import (
    PAIRWISE,
    REFUSAL,
    VerdictsFile,
    fingerprint,
    summarize_refusals,
    summarize_verdicts,
)


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "judge",
        help="compare runs with an LLM judge, or classify refusals",
        description="Judge the answers of a `tpo eval` results file with a chat model: "
        "against another run's answers or the dataset's references (pairwise, both "
        "presentation orders, ties allowed), or each answer alone as compliance or refusal. "
        "One JSON line per prompt is appended to --out; re-running the same command resumes.",
    )
    parser.add_argument("results", help="results file of `tpo eval` (run A)")
    task = parser.add_mutually_exclusive_group(required=True)
    task.add_argument(
        "--against", metavar="OTHER_RESULTS", help="compare with another run's results (run B)"
    )
    task.add_argument(
        "--reference",
        action="store_true",
        help="compare with the reference answers the result rows carry (AlpacaEval style)",
    )
    task.add_argument(
        "--refusal",
        action="store_true",
        help="label each answer comply / refuse / partial (XSTest); the string rule too",
    )
    parser.add_argument("--out", required=True, help="verdicts file (JSONL, appended)")
    parser.add_argument("--limit", type=int, help="only the first LIMIT prompts")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=8,
        help="prompts judged at once; a pairwise prompt sends two requests at a time (8)",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=2,
        help="times to ask again when a reply does not open with the verdict (2)",
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds each judge request may take (300)"
    )
    group = parser.add_argument_group("judge model (default: the embedded SmolLM2-135M policy)")
    group.add_argument(
        "--judge-url",
        metavar="URL",
        help="an OpenAI-compatible server for the judge (e.g. http://127.0.0.1:8000/v1)",
    )
    group.add_argument(
        "--judge-model",
        metavar="NAME_OR_PATH",
        help="with --judge-url the served model name (default: the first listed); otherwise "
        "a local Hugging Face directory or hub id run in process",
    )
    group.add_argument(
        "--judge-backend",
        choices=("transformers", "vllm"),
        default="transformers",
        help="how an in-process judge runs (default: transformers)",
    )
    group.add_argument(
        "--judge-api-key",
        metavar="KEY",
        help="API key of the judge server (default: $OPENAI_API_KEY, else none)",
    )
    group.add_argument(
        "--judge-max-tokens", type=int, default=256, help="tokens per judge reply (256)"
    )
    group.add_argument(
        "--judge-temperature", type=float, default=0.0, help="judge temperature (0: greedy)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    _check_numbers(args)
    task = REFUSAL if args.refusal else PAIRWISE
    answers = _read(args.results)
    a_label = Path(args.results).stem
    if args.refusal:
        items: list[Any] = [Response(a.id, a.prompt, a.response) for a in answers]
        b_label = None
    elif args.reference:
        items = _reference_pairs(args.results, answers)
        b_label = "reference"
    else:
        items = _pairs(args.results, answers, args.against, _read(args.against))
        b_label = Path(args.against).stem
        if b_label == a_label:
            a_label, b_label = str(args.results), str(args.against)
    if args.limit is not None:
        items = items[: args.limit]

    settings: dict[str, Any] = {
        "task": task,
        "judge": describe_judge(args),
        "judge_prompt": (refusal_judge if args.refusal else pairwise_judge).prompt_fingerprint(),
        "max_tokens": args.judge_max_tokens,
        "temperature": args.judge_temperature,
        "a_label": a_label,
    }
    if b_label is not None:
        settings["b_label"] = b_label

    try:
        out = VerdictsFile(args.out, settings)
        out.open()
    except (RuntimeError, ValueError, OSError) as e:
        raise CLIError(str(e)) from None
    with out:
        if out.repaired:
            say(f"{args.out}: removed a line cut short by an earlier stop.")
        _check_unchanged(args.out, out, items)
        todo = sum(item.id not in out.done for item in items)
        what = "answers" if args.refusal else "pairs"
        say(
            f"{len(items)} {what}, {len(items) - todo} already in {args.out}, {todo} to judge "
            f"({settings['judge']})."
        )
        failed = _judge(args, items, out, todo) if todo else False
    _print_summary(args.out, task)
    return 1 if failed else 0


def say(text: str) -> None:
    print(f"tpo judge: {text}", file=sys.stderr, flush=True)


def _check_numbers(args: argparse.Namespace) -> None:
    if args.limit is not None and args.limit < 1:
        raise CLIError("--limit must be at least 1")
    if args.concurrency < 1:
        raise CLIError("--concurrency must be at least 1")
    if args.retries < 0:
        raise CLIError("--retries must be 0 or more")
    if not args.timeout > 0:
        raise CLIError("--timeout must be a positive number of seconds")
    if args.judge_max_tokens < 1:
        raise CLIError("--judge-max-tokens must be at least 1")
    if not 0 <= args.judge_temperature <= 2 or math.isnan(args.judge_temperature):
        raise CLIError("--judge-temperature must be between 0 and 2")
    if args.judge_url and args.judge_backend != "transformers":
        raise CLIError("--judge-backend runs a judge in process; leave it out with --judge-url")


def _read(path: str) -> list[Answer]:
    try:
        answers, problems = read_answers(path)
    except (FileNotFoundError, ValueError) as e:
        raise CLIError(str(e)) from None
    for problem in problems:
        say(f"{path}: {problem}")
    if not answers:
        raise CLIError(f"{path} has no answer to judge (rows need an id, a prompt, a response).")
    return answers


def _reference_pairs(path: str, answers: Sequence[Answer]) -> list[Pair]:
    pairs = [Pair(a.id, a.prompt, a.response, a.reference) for a in answers if a.reference]
    if not pairs:
        raise CLIError(
            f"no row of {path} carries a reference answer; run `tpo eval` on a dataset with a "
            "'reference' field, or compare with --against OTHER_RESULTS."
        )
    if len(pairs) < len(answers):
        say(f"{len(answers) - len(pairs)} rows of {path} have no reference; left out.")
    return pairs


def _pairs(
    path: str, answers: Sequence[Answer], other_path: str, others: Sequence[Answer]
) -> list[Pair]:
    by_id = {o.id: o for o in others}
    pairs: list[Pair] = []
    for a in answers:
        b = by_id.get(a.id)
        if b is None:
            continue
        if b.prompt != a.prompt:
            raise CLIError(
                f"{path} and {other_path} answer different prompts under id {a.id!r}; compare "
                "results of the same dataset."
            )
        pairs.append(Pair(a.id, a.prompt, a.response, b.response))
    if not pairs:
        raise CLIError(f"{path} and {other_path} share no prompt id; nothing to compare.")
    missing = len(answers) - len(pairs)
    if missing or len(others) > len(pairs):
        say(
            f"{len(pairs)} prompts in both files; {missing} only in {path}, "
            f"{len(others) - len(pairs)} only in {other_path} (left out)."
        )
    return pairs


def _check_unchanged(path: str, out: VerdictsFile, items: Sequence[Any]) -> None:
    """Refuse to resume when the answers of prompts already judged have changed."""
    changed = []
    for item in items:
        if item.id not in out.done:
            continue
        texts: tuple[str, ...] = (
            (item.prompt, item.response)
            if isinstance(item, Response)
            else (item.prompt, item.a, item.b)
        )
        if out.done[item.id] != fingerprint(*texts):
            changed.append(item.id)
    if changed:
        shown = ", ".join(repr(i) for i in changed[:5]) + (" ..." if len(changed) > 5 else "")
        raise CLIError(
            f"{path} holds verdicts on other answers for {len(changed)} of these prompts "
            f"({shown}): the results changed since they were judged. Write to another --out."
        )


def _judge(args: argparse.Namespace, items: Sequence[Any], out: VerdictsFile, todo: int) -> bool:
    """Judge the items not yet in `out`; True when some failed (left for the next run)."""
    judge = models.timed("the judge model", lambda: load_judge(args), say)
    try:
        bar = ProgressBar(todo)
        done = 0

        def progress(item: Any, row: dict[str, Any] | None) -> None:
            nonlocal done
            done += 1
            bar.update(done, f"{item.id} {_note(row)}")

        if args.refusal:
            worker: Any = RefusalJudge(judge, max_retries=args.retries, timeout=args.timeout)
            judge_one = worker.aclassify
        else:
            worker = PairwiseJudge(judge, max_retries=args.retries, timeout=args.timeout)
            judge_one = worker.ajudge
        summary = asyncio.run(
            judge_items(items, judge_one, out, concurrency=args.concurrency, progress=progress)
        )
        bar.close()
    finally:
        close = getattr(judge, "close", None)
        if callable(close):
            close()
    say(
        f"{summary.finished} judged, {len(summary.failed)} failed in {summary.seconds:.1f} s "
        f"-> {args.out}"
    )
    for item_id, error in summary.failed.items():
        say(f"{item_id} failed: {error}")
    if summary.failed:
        say("re-run the same command to retry the failed prompts.")
    return bool(summary.failed)


def _note(row: dict[str, Any] | None) -> str:
    if row is None:
        return "failed"
    reasons = [row.get("reasoning")] + [j.get("reasoning") for j in row.get("judgments", [])]
    if any(str(r or "").startswith(NOT_JUDGED_TOO_LONG) for r in reasons):
        return "too long for the judge (recorded, not retried)"
    if "outcome" in row:
        return str(row["outcome"] or "no verdict")
    return str(row["label"] or f"no label (rule: {row['rule_kind']})")


def _print_summary(path: str, task: str) -> None:
    if task == REFUSAL:
        r = summarize_refusals(path)
        agreement = "-" if r.agreement is None else f"{r.agreement:.3f}"
        print(f"Refusals of {r.label}, judged by {r.judge}: {r.n} answers")
        print(f"  judge: {r.judge_refusals} refusals of {r.judged} answers it labelled")
        print(f"  string rule: {r.rule_refusals} refusals of {r.n} answers")
        print(f"  combined (the judge, else the rule): {r.refusals} of {r.n}")
        print(f"  judge and rule agree on {agreement} of the answers the judge labelled")
        return
    s = summarize_verdicts(path)
    rate = "-" if not s.n else f"{s.win_rate:.3f}"
    lc = "-" if s.lc_win_rate is None else f"{s.lc_win_rate:.3f}"
    agree = "-" if s.position_agreement is None else f"{s.position_agreement:.3f}"
    first = "-" if s.first_position_rate is None else f"{s.first_position_rate:.3f}"
    print(f"{s.a_label} vs {s.b_label}, judged by {s.judge}: {s.n} prompts")
    print(f"  wins {s.wins}, ties {s.ties}, losses {s.losses}; no verdict {s.invalid}")
    print(f"  win rate {rate} (mean preference, ties and split orders count half)")
    print(f"  length-controlled win rate {lc}")
    print(f"  position agreement {agree}; answer shown first preferred {first}")


def describe_judge(args: argparse.Namespace) -> str:
    """The judge the flags choose, as recorded in the verdicts (no credentials)."""
    if args.judge_url:
        return f"{args.judge_model or 'server'}@{public_url(args.judge_url)}"
    return f"{args.judge_model or 'default'} ({args.judge_backend})"


def public_url(url: str) -> str:
    """`url` without user, password, query or fragment (where keys hide)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def load_judge(args: argparse.Namespace) -> BaseChatModel:
    """The judge chosen by --judge-url, or --judge-model/--judge-backend in process."""
    if args.judge_url:
        return _server_judge(args)
    from langchain_tpo.chat_models import load_default_policy

    model = args.judge_model or None
    try:
        if args.judge_backend == "vllm":
            return load_default_policy(
                "vllm",
                model=model,
                max_tokens=args.judge_max_tokens,
                temperature=args.judge_temperature,
            )
        return load_default_policy(
            "transformers",
            model=model,
            max_tokens=args.judge_max_tokens,
            temperature=args.judge_temperature,  # 0 decodes greedily
        )
    except (FileNotFoundError, ImportError, ValueError, OSError) as e:
        raise CLIError(f"could not load the judge model: {e}", exit_code=1) from e


def _server_judge(args: argparse.Namespace) -> BaseChatModel:
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as e:
        msg = 'A --judge-url judge needs langchain-openai: pip install "langchain-tpo[openai]"'
        raise CLIError(msg) from e
    url = args.judge_url.rstrip("/")
    key: str = args.judge_api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY"
    model = args.judge_model or _first_served_model(url, key)
    return ChatOpenAI(  # type: ignore[call-arg]  # max_tokens is an alias of max_completion_tokens
        base_url=url,
        model=model,
        api_key=SecretStr(key),
        temperature=args.judge_temperature,
        max_tokens=args.judge_max_tokens,
        timeout=args.timeout,
        max_retries=2,
    )


def _first_served_model(url: str, key: str) -> str:
    request = urllib.request.Request(f"{url}/models", headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            listing = json.load(response)
        return str(listing["data"][0]["id"])
    except (urllib.error.URLError, OSError) as e:
        msg = (
            f"no judge server answers at {public_url(url)} ({type(e).__name__}). Start it, or "
            "check --judge-url (it ends in /v1)."
        )
        raise CLIError(msg, exit_code=1) from None
    except (KeyError, IndexError, TypeError, ValueError):
        msg = f"the judge server at {public_url(url)} lists no model; pass --judge-model NAME."
        raise CLIError(msg, exit_code=1) from None
