"""Let the default policy write what TPO asks of it, to find its own non-answers.

For each selected HH-RLHF row the default policy (SmolLM2-135M-Instruct on vLLM) does one TPO
iteration by hand, with the project's own prompts (`langchain_tpo.prompts`): two plain answers
to the dialogue, a critique of the first against the second (textual loss), suggestions
(textual gradient) and two rewrites (variable update, extracted as TPO extracts them). The
outputs go to a JSONL file; `scripts/reward_data.py` sorts them into answers and scaffolding
with the published rule (`langchain_tpo.answer_kinds`).

The training script only ever trains on training rows' outputs; held-out rows (for checks)
can be generated too. Rows with a long dialogue are skipped to keep prefill cheap.

Two backends, the same weights and sampling settings: vLLM (`load_default_policy("vllm")`,
all rows in flight at once) and transformers (the policy's checkpoint with batched `generate`,
one thread; for a machine so busy that vLLM's worker threads starve).

Usage:
    python scripts/reward_policy_outputs.py --train-prompts 100 --held-out-prompts 0 \
        --backend transformers
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scripts.reward_data import (  # noqa: E402
    DATA,
    Row,
    held_out_rows,
    load_rows,
    messages_of,
    training_rows,
)

DEFAULT_OUT = Path("/tmp/langchain-tpo-reward-features/policy_outputs.jsonl")


def select(rows: list[Row], count: int, max_chars: int) -> list[Row]:
    """The first `count` rows whose dialogue is at most `max_chars` long."""
    return [r for r in rows if len(r["context"]) <= max_chars][:count]


async def one_iteration(policy: Any, row: Row, args: argparse.Namespace) -> dict[str, Any]:
    """Two answers, a critique, suggestions and two rewrites for one row."""
    from langchain_tpo.parsing import extract_response, scaffold_lines
    from langchain_tpo.prompts import MARKERS, TPOPrompts, render_context
    from langchain_tpo.sampling import SamplingParams, asample, derive_seed

    prompts = TPOPrompts()
    messages = messages_of(row["context"])

    def params(stage: str) -> SamplingParams:
        seed = derive_seed(args.seed, row["id"], stage)
        return SamplingParams(temperature=0.7, top_p=0.95, max_tokens=args.max_tokens, seed=seed)

    answers = (await asample(policy, messages, 2, params("answer"))).texts
    while len(answers) < 2:  # a failed request: reuse what there is
        answers.append(answers[0] if answers else "")
    common = {
        "context": render_context(messages[:-1]),
        "query": messages[-1].text,
        "chosen": answers[0].strip(),
    }
    critique_messages = prompts.critique.format_messages(
        **common, rejected=answers[1].strip(), chosen_notes="", rejected_notes=""
    )
    critique = "".join((await asample(policy, critique_messages, 1, params("critique"))).texts)
    suggest_messages = prompts.suggest.format_messages(**common, critique=critique)
    suggestion = "".join((await asample(policy, suggest_messages, 1, params("suggest"))).texts)
    rewrite_messages = prompts.rewrite.format_messages(**common, suggestion=suggestion, **MARKERS)
    raw = (await asample(policy, rewrite_messages, 2, params("rewrite"))).texts
    scaffold = scaffold_lines(prompts.rewrite)
    rewrites = [extract_response(t, scaffold=scaffold).text for t in raw]
    return {
        "id": row["id"],
        "answers": answers,
        "critique": critique,
        "suggestion": suggestion,
        "rewrites": [t for t in rewrites if t],
        "raw_rewrites": raw,
    }


class BatchedPolicy:
    """The default policy's checkpoint on transformers, generating for many prompts at once.

    Prompts are rendered with the model's chat template (as `ChatHuggingFace` does) and
    left-padded into batches; sampling as in `one_iteration`.
    """

    def __init__(self, max_tokens: int, batch_size: int = 16) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from langchain_tpo.bundled import default_model_dir

        torch.set_num_threads(int(os.environ.get("REWARD_FEATURE_THREADS", "1")))
        torch.set_grad_enabled(False)
        self.torch = torch
        model_dir = str(default_model_dir())
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
        self.max_tokens = max_tokens
        self.batch_size = batch_size

    def generate(self, conversations: list[list[Any]], n: int, seed: int) -> list[list[str]]:
        """`n` sampled replies per conversation."""
        from langchain_tpo.reward_models.formatting import to_chat_messages

        prompts = [
            self.tokenizer.apply_chat_template(
                to_chat_messages(c, "")[:-1], tokenize=False, add_generation_prompt=True
            )
            for c in conversations
        ]
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        replies: list[list[str]] = [[] for _ in prompts]
        for b, start in enumerate(range(0, len(order), self.batch_size)):
            batch = order[start : start + self.batch_size]
            encoded = self.tokenizer(
                [prompts[i] for i in batch],
                return_tensors="pt",
                padding=True,
                add_special_tokens=False,
            )
            self.torch.manual_seed(seed + b)
            out = self.model.generate(
                **encoded,
                do_sample=True,
                temperature=0.7,
                top_p=0.95,
                max_new_tokens=self.max_tokens,
                num_return_sequences=n,
                pad_token_id=self.tokenizer.pad_token_id,
            )
            new = out[:, encoded["input_ids"].shape[1] :]
            texts = self.tokenizer.batch_decode(new, skip_special_tokens=True)
            for k, i in enumerate(batch):
                replies[i] = [t.strip() for t in texts[k * n : (k + 1) * n]]
            print(f"    batch {b + 1}: {len(batch)} prompts", flush=True)
        return replies


def batched_iterations(rows: list[Row], args: argparse.Namespace) -> list[dict[str, Any]]:
    """`one_iteration` for all rows, round by round, on `BatchedPolicy`."""
    from langchain_tpo.parsing import extract_response, scaffold_lines
    from langchain_tpo.prompts import MARKERS, TPOPrompts, render_context

    prompts = TPOPrompts()
    policy = BatchedPolicy(args.max_tokens)
    conversations = [messages_of(r["context"]) for r in rows]
    print("round 1: answers", flush=True)
    answers = policy.generate(conversations, 2, args.seed)
    commons = [
        {"context": render_context(m[:-1]), "query": m[-1].text, "chosen": a[0]}
        for m, a in zip(conversations, answers, strict=True)
    ]
    print("round 2: critiques", flush=True)
    critiques = policy.generate(
        [
            prompts.critique.format_messages(**c, rejected=a[1], chosen_notes="", rejected_notes="")
            for c, a in zip(commons, answers, strict=True)
        ],
        1,
        args.seed + 1000,
    )
    print("round 3: suggestions", flush=True)
    suggestions = policy.generate(
        [
            prompts.suggest.format_messages(**c, critique=k[0])
            for c, k in zip(commons, critiques, strict=True)
        ],
        1,
        args.seed + 2000,
    )
    print("round 4: rewrites", flush=True)
    raw = policy.generate(
        [
            prompts.rewrite.format_messages(**c, suggestion=g[0], **MARKERS)
            for c, g in zip(commons, suggestions, strict=True)
        ],
        2,
        args.seed + 3000,
    )
    scaffold = scaffold_lines(prompts.rewrite)
    records = []
    for row, a, k, g, r in zip(rows, answers, critiques, suggestions, raw, strict=True):
        rewrites = [extract_response(t, scaffold=scaffold).text for t in r]
        records.append(
            {
                "id": row["id"],
                "answers": a,
                "critique": k[0],
                "suggestion": g[0],
                "rewrites": [t for t in rewrites if t],
                "raw_rewrites": r,
                "backend": "transformers",
            }
        )
    return records


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--train-prompts", type=int, default=150)
    parser.add_argument("--held-out-prompts", type=int, default=80)
    parser.add_argument("--train-rows", type=int, default=1000, help="as in the training script")
    parser.add_argument("--max-context-chars", type=int, default=1200)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--backend", choices=["vllm", "transformers"], default="vllm")
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
    from langchain_tpo.chat_models import load_default_policy

    rows = load_rows(args.data)
    chosen = [
        *select(training_rows(rows, args.train_rows, args.seed), args.train_prompts,
                args.max_context_chars),
        *select(held_out_rows(rows, 463), args.held_out_prompts, args.max_context_chars),
    ]  # fmt: skip
    done = set()
    if args.out.is_file():
        done = {json.loads(line)["id"] for line in args.out.read_text().splitlines() if line}
    todo = [r for r in chosen if r["id"] not in done]
    print(f"{len(todo)} rows to generate ({len(done)} already in {args.out})", flush=True)
    if not todo:
        return
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.backend == "transformers":
        start = time.perf_counter()
        records = batched_iterations(todo, args)
        with args.out.open("a", encoding="utf-8") as f:
            f.writelines(json.dumps(r) + "\n" for r in records)
        print(f"wrote {len(records)} rows in {time.perf_counter() - start:.0f} s", flush=True)
        return
    policy = load_default_policy("vllm", kv_cache_memory_bytes=1 << 30)
    try:
        start = time.perf_counter()

        async def run_all() -> int:
            # All rows at once so the engine batches them; each is written when it is done.
            written = 0
            with args.out.open("a", encoding="utf-8") as f:
                for task in asyncio.as_completed([one_iteration(policy, r, args) for r in todo]):
                    f.write(json.dumps(await task) + "\n")
                    f.flush()
                    written += 1
                    if written % 20 == 0:
                        elapsed = time.perf_counter() - start
                        print(f"  {written}/{len(todo)} rows, {elapsed:.0f} s", flush=True)
            return written

        written = policy._runner.loop.run(run_all())
        print(f"wrote {written} rows in {time.perf_counter() - start:.0f} s", flush=True)
    finally:
        policy.close()


if __name__ == "__main__":
    main()
