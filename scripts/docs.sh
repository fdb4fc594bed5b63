#!/usr/bin/env bash
# Build the HTML documentation into docs/_build/html, failing on any warning.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python -m sphinx -W --keep-going -q -b html docs docs/_build/html
