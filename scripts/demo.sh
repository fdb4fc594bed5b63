#!/usr/bin/env bash
# Main job on a fresh machine: set up .venv (scripts/setup.sh), then run the end-to-end
# demo into demo-output/ (or the directory given as the first argument) and print where
# the report is. Extra arguments go to `dustsim demo` (e.g. --quick, --device cuda).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
cd "$root"
. .venv/bin/activate
out="${1:-demo-output}"
shift || true
dustsim demo -o "$out" "$@"
