#!/usr/bin/env bash
# Installs the programs users run exported models in, for the tests that check the exports with
# them: node-llama-cpp (llama.cpp's engine, prebuilt for linux-x64 CPU) for GGUF files. They go
# into .clients/ (ignored by git), not into Retort's dependencies; everything comes from the npm
# registry. Idempotent: does nothing when the pinned versions are already there.
set -euo pipefail
cd "$(dirname "$0")/.."
LLAMA_CPP=3.22.1
if [ -f .clients/node_modules/node-llama-cpp/package.json ] && grep -q "\"version\": \"$LLAMA_CPP\"" .clients/node_modules/node-llama-cpp/package.json; then
  echo "node-llama-cpp $LLAMA_CPP already in .clients/"
  exit 0
fi
mkdir -p .clients
[ -f .clients/package.json ] || echo '{"name": "retort-clients", "private": true}' > .clients/package.json
# Only the CPU build of llama.cpp: the CUDA and Vulkan variants are hundreds of MB that CPU tests never load.
npm install --prefix .clients --no-audit --no-fund --ignore-scripts --omit=optional \
  "node-llama-cpp@$LLAMA_CPP" "@node-llama-cpp/linux-x64@$LLAMA_CPP"
echo "installed node-llama-cpp $LLAMA_CPP into .clients/"
