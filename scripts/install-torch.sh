#!/usr/bin/env bash
# Install PyTorch (Debian's python3-torch, 1.13.x) for the benchmark peers and
# fixture generator. PyPI is not reachable in this environment; only Debian
# packages are. Debian's torch is only importable from Debian's interpreter,
# /usr/bin/python3 (a pyenv `python3` earlier on PATH will NOT see it), so all
# Python scripts under bench/ and fixtures/ must be run with /usr/bin/python3.
#
# Idempotent: does nothing if /usr/bin/python3 can already `import torch`.
# Prints the torch version at the end.
set -euo pipefail

PY=/usr/bin/python3

if "$PY" -c 'import torch' >/dev/null 2>&1; then
  echo "torch already importable from $PY; skipping install" >&2
else
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  # libopenblas0-pthread: torch's BLAS is libblas.so.3 (BLAS_INFO=generic),
  # resolved through update-alternatives; the pthread OpenBLAS variant is the
  # fast one (the reference BLAS would be very slow).
  $SUDO apt-get install -y --no-install-recommends python3-torch libopenblas0-pthread
fi

"$PY" -c 'import torch; print("torch", torch.__version__, "python", __import__("sys").executable)'
