#!/usr/bin/env bash
# The 30-prompt end-to-end run of docs/REPRODUCE.md on the CPU defaults: one vLLM server with
# the embedded policy answers for `tpo eval` and then judges for `tpo judge`; the embedded
# reward model runs inside `tpo eval`. Re-running resumes every step.
#
# N=3, D=1 and 64 tokens, not the paper's N=5, D=2: at N=5, D=2 the four modes took 16 minutes
# per benchmark on this 2-core machine (alpaca_eval's TPO alone 421 s), about 100 minutes for the
# six; these settings take under half of that. The server's context is the model's 8,192 tokens:
# at 2,048, two Arena-Hard prompts with the baseline's answer and ours did not fit the judge.
#
#   bash benchmarks/paper_eval/run.sh          # from the repository root, tpo on PATH
set -euo pipefail
N=${N:-3}
D=${D:-1}
TOKENS=${TOKENS:-64}
PORT=${PORT:-8011}
OUT=benchmarks/paper_eval
URL=http://127.0.0.1:$PORT/v1
MODEL=$(python -c 'from langchain_tpo.bundled import default_model_dir as d; print(d())')

VLLM_CPU_NUM_OF_RESERVED_CPU=0 python -m vllm.entrypoints.openai.api_server \
    --model "$MODEL" --served-model-name smollm2-135m-instruct \
    --host 127.0.0.1 --port "$PORT" --no-enable-chunked-prefill --max-model-len 8192 \
    --kv-cache-memory-bytes 1073741824 > "$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null' EXIT
until curl -sf "$URL/models" > /dev/null; do
  kill -0 $SERVER || { echo "the vLLM server exited; see $OUT/server.log" >&2; exit 1; }
  sleep 5
done

time tpo eval --benchmark all --mode tpo,revision,bon,base --sample 30 -n "$N" -d "$D" \
    --max-tokens "$TOKENS" --server-url "$URL" --concurrency 30 --out-dir "$OUT/runs"
time tpo eval --benchmark hh_rlhf --mode bon --bon-samples 12 --sample 30 \
    --max-tokens "$TOKENS" --server-url "$URL" --concurrency 30 --out "$OUT/runs/hh_rlhf/bon12.jsonl"

# A judge command that could not judge every prompt says why and exits 1; the others still run,
# and this script exits 1 at the end (re-run it to retry those prompts).
J=(--judge-url "$URL" --judge-max-tokens 64 --concurrency 16)
status=0
for mode in tpo revision bon base; do
  for bench in alpaca_eval arena_hard; do
    time tpo judge "$OUT/runs/$bench/$mode.jsonl" --reference \
        --out "$OUT/verdicts/${bench}_$mode.jsonl" "${J[@]}" || status=1
  done
  time tpo judge "$OUT/runs/xstest/$mode.jsonl" --refusal \
      --out "$OUT/verdicts/xstest_$mode.jsonl" "${J[@]}" || status=1
done

tpo report "$OUT"/runs/*/*.jsonl --verdicts "$OUT"/verdicts/*.jsonl --out-dir "$OUT"
exit $status
