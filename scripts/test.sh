#!/usr/bin/env bash
# Set up .venv (scripts/setup.sh) and run the checks CI runs: lint, formatting (ruff format), static types (mypy, config
# in pyproject.toml [tool.mypy]), the test suite, and the documentation build (warnings and
# unresolved references are errors). Installs only the dev and docs extras: the benchmark
# peers (the peers extra) are for scripts/bench/ and no test needs them.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
cd "$root"
. .venv/bin/activate
ruff check .
ruff format --check .
mypy dustsim analysis
python -m pytest -q "$@"
bash scripts/docs.sh
