"""pytest configuration: headless plotting; helpers live in ``stats_helpers``."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")
