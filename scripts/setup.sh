#!/usr/bin/env bash
# Create (or reuse) .venv in the project root and install dustsim with its test tools
# (benchmark peers: pip install -e ".[peers]").
# torch: the CPU wheel is installed first so that the declared range is already met
# without downloading a multi-GB CUDA build (set DUSTSIM_TORCH to choose another).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -c "import torch" 2>/dev/null || python -m pip install -q "${DUSTSIM_TORCH:-torch==2.13.0}"
python -m pip install -q -e ".[dev,docs]"
