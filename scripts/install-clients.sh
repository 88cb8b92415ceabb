#!/usr/bin/env bash
# Installs the programs users run exported models in, for the tests that check the exports with
# them: node-llama-cpp (llama.cpp's engine, prebuilt for linux-x64 CPU) for GGUF files and
# transformers.js (@huggingface/transformers, on the same onnxruntime-node as Retort) for the ONNX
# folders with each dtype. They go
# into .clients/ (ignored by git), not into Retort's dependencies; everything comes from the npm
# registry. Idempotent: does nothing when the pinned versions are already there.
set -euo pipefail
cd "$(dirname "$0")/.."
LLAMA_CPP=3.22.1
TRANSFORMERS=4.3.2
has() { [ -f ".clients/node_modules/$1/package.json" ] && grep -q "\"version\": \"$2\"" ".clients/node_modules/$1/package.json"; }
if has node-llama-cpp "$LLAMA_CPP" && has @huggingface/transformers "$TRANSFORMERS"; then
  echo "node-llama-cpp $LLAMA_CPP and transformers.js $TRANSFORMERS already in .clients/"
  exit 0
fi
mkdir -p .clients
[ -f .clients/package.json ] || echo '{"name": "retort-clients", "private": true}' > .clients/package.json
# Only the CPU build of llama.cpp: the CUDA and Vulkan variants are hundreds of MB that CPU tests never
# load. transformers.js imports sharp, whose linux-x64 binaries are optional dependencies: named here.
npm install --prefix .clients --no-audit --no-fund --ignore-scripts --omit=optional \
  "node-llama-cpp@$LLAMA_CPP" "@node-llama-cpp/linux-x64@$LLAMA_CPP" "@huggingface/transformers@$TRANSFORMERS" \
  "@img/sharp-linux-x64@0.35.5" "@img/sharp-libvips-linux-x64@1.3.4"
echo "installed node-llama-cpp $LLAMA_CPP and transformers.js $TRANSFORMERS into .clients/"
