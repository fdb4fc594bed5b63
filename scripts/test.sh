#!/usr/bin/env bash
# Set up .venv (scripts/setup.sh) and run the checks CI runs: lint, the test suite, and
# the documentation build (warnings are errors).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
cd "$root"
. .venv/bin/activate
ruff check .
python -m pytest -q "$@"
bash scripts/docs.sh
