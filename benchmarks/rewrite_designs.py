"""Which rewrite (update) step gives answers, not scaffolding? Measured on the default models.

Three designs of TPO's update step, each run as full TPO (N samples, D iterations) on the same
prompts with the same seed, the embedded SmolLM2-135M policy on vLLM and the default reward:

- `markers`: one instruction that shows the query, the draft and the suggestions and asks for
  the improved answer between `<response>` markers (what earlier versions did);
- `markers+structured`: the same prompt, with vLLM's structured outputs forcing the reply into
  `<response>...</response>` (a regex);
- `conversation`: the shipped design: the draft and the suggestions in the system message, the
  conversation and the query as chat turns, so the reply is the answer;
- `conversation-notes`: the same shape, the system message worded as notes for the next reply
  (no "draft", "reviewer" or "rewrite", words small models echo back).

Per design: rewrites, marker misses (marker designs only), rewrites that are scaffolding by the
published rule (`langchain_tpo.answer_kinds`), empty outputs, lead-in lines cut, prompt echoes
cut, mean reward of the rewrites, and the final answers that are scaffolding. Raw candidates go
to benchmarks/rewrite_designs/<design>.jsonl for reading.

Run: python benchmarks/rewrite_designs.py [--limit 30] [--samples 5] [--iterations 2]
     [--max-tokens 96] [--designs conversation,markers] [--write]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from _results import machine, write_section
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder

from langchain_tpo import TPOChain, TPOConfig, TPOPrompts
from langchain_tpo.answer_kinds import count_kinds, is_scaffolding
from langchain_tpo.evaluation import load_prompts
from langchain_tpo.parsing import RESPONSE_START
from langchain_tpo.prompts import MARKER_REWRITE_PROMPT, REWRITE_PROMPT
from langchain_tpo.sampling import derive_seed

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "hh_rlhf_30.jsonl"
OUT = HERE / "rewrite_designs"
DESIGNS = ("markers", "markers+structured", "conversation", "conversation-notes")
NOTES_PROMPT = ChatPromptTemplate.from_messages(
    [
        (
            "system",
            "You are a helpful, honest and harmless AI assistant.\n\n"
            "Notes for your next reply. An earlier reply to the user's last message, between "
            "the lines {fence}:\n{fenced_chosen}\n\n"
            "How a better reply would differ, between the lines {fence}:\n{fenced_suggestion}"
            "\n\nReply to the user's last message now, taking the notes into account. Speak "
            "to the user directly and only give the reply.",
        ),
        MessagesPlaceholder("conversation"),
    ]
)
STRUCTURE = r"<response>[^<]{1,2000}</response>"


def structured_policy(policy: Any) -> Any:
    """The same engine, with marker-style rewrite requests forced into the marker format."""
    from vllm.sampling_params import StructuredOutputsParams

    from langchain_tpo.chat_models import ChatVLLM

    class StructuredRewrites(ChatVLLM):
        def _requests(self, conversations: Any, stop: Any, **kwargs: Any) -> Any:
            if any(RESPONSE_START in m.text for c in conversations for m in c[-1:]):
                kwargs["structured_outputs"] = StructuredOutputsParams(regex=STRUCTURE)
            return super()._requests(conversations, stop, **kwargs)

    return StructuredRewrites(
        engine=policy.engine, **policy.model_dump(exclude_unset=True, exclude={"engine"})
    )


async def run_design(
    design: str, policy: Any, reward: Any, rows: list[Any], config: TPOConfig, seed: int
) -> dict[str, Any]:
    rewrite = {
        "conversation": REWRITE_PROMPT,
        "conversation-notes": NOTES_PROMPT,
    }.get(design, MARKER_REWRITE_PROMPT)
    prompts = TPOPrompts(rewrite=rewrite)
    model = structured_policy(policy) if design == "markers+structured" else policy
    chain = TPOChain(policy=model, reward=reward, config=config, prompts=prompts)
    start = time.perf_counter()
    results = await asyncio.gather(
        *(
            chain.ainvoke(row.prompt, {"configurable": {"seed": derive_seed(seed, row.id)}})
            for row in rows
        )
    )
    seconds = time.perf_counter() - start
    OUT.mkdir(exist_ok=True)
    with (OUT / f"{design.replace('+', '_')}.jsonl").open("w", encoding="utf-8") as f:
        for row, result in zip(rows, results, strict=True):
            record = {
                "id": row.id,
                "prompt": row.prompt,
                "answer": result.response,
                "score": result.score,
                "candidates": [c.model_dump() for c in result.candidates],
            }
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    rewrites = [c for r in results for c in r.candidates if c.iteration >= 0]
    produced = sum(len(h.candidates) + h.empty_outputs for r in results for h in r.history)
    finals = count_kinds(r.response for r in results)
    return {
        "design": design,
        "rewrites": produced,
        "marker_misses": sum(r.marker_misses for r in results)
        if design != "conversation"
        else None,
        "scaffolded": sum(is_scaffolding(c.text) for c in rewrites),
        "empty": sum(r.empty_outputs for r in results),
        "lead_ins": sum(r.lead_ins for r in results),
        "echoes": sum(r.prompt_echoes for r in results),
        "rewrite_reward": statistics.fmean(c.score for c in rewrites) if rewrites else float("nan"),
        "final_reward": statistics.fmean(r.score for r in results if r.score is not None),
        "final_scaffolding": finals["scaffolding"],
        "final_refusals": finals["refusal"],
        "prompts": len(results),
        "seconds": seconds,
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| design | rewrites | marker misses | scaffolded rewrites | empty | lead-ins cut | "
        "echoes cut | mean rewrite reward | final answers that are scaffolding | "
        "mean final reward | wall s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        misses = "-" if r["marker_misses"] is None else f"{r['marker_misses']} / {r['rewrites']}"
        share = r["scaffolded"] / max(1, r["rewrites"])
        lines.append(
            f"| {r['design']} | {r['rewrites']} | {misses} | {r['scaffolded']} ({share:.0%}) | "
            f"{r['empty']} | {r['lead_ins']} | {r['echoes']} | {r['rewrite_reward']:+.3f} | "
            f"{r['final_scaffolding']} / {r['prompts']} | {r['final_reward']:+.3f} | "
            f"{r['seconds']:.0f} |"
        )
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> None:
    from langchain_tpo.chat_models import load_default_policy
    from langchain_tpo.reward_models import load_default_reward

    rows = load_prompts(args.data, limit=args.limit).rows
    config = TPOConfig(
        num_samples=args.samples,
        max_iterations=args.iterations,
        max_tokens=args.max_tokens,
        request_timeout_s=None,
    )
    load = os.getloadavg()[0]
    policy = load_default_policy("vllm", kv_cache_memory_bytes=1 << 30)
    reward = load_default_reward("vllm")
    results = []
    try:
        for design in args.designs.split(","):
            print(f"{design}...", flush=True)
            results.append(await run_design(design, policy, reward, rows, config, args.seed))
            print(table(results), flush=True)
    finally:
        policy.close()
        close = getattr(reward, "close", None)
        if close:
            close()
    text = table(results)
    print(text)
    if args.write:
        section = (
            "## Rewrite step designs\n\n"
            f"`python benchmarks/rewrite_designs.py --write` (TPO N={args.samples}, "
            f"D={args.iterations}, {args.max_tokens} tokens, seed {args.seed}, on "
            f"{len(rows)} prompts of `{args.data.relative_to(HERE.parent)}`; the embedded "
            "policy on vLLM and the default reward model). Scaffolding counted by "
            "`langchain_tpo.answer_kinds`. Machine: " + machine(load) + ".\n\n" + text + "\n"
        )
        write_section("## Rewrite step designs", section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--limit", type=int, default=30)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--designs", default=",".join(DESIGNS))
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
