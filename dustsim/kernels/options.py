"""Numba compile options shared by every kernel module (one place for the rule).

``JIT`` compiles a kernel with the on-disk cache and numpy's error model (no
ZeroDivisionError checks in hot loops); ``INLINE`` also inlines a helper at Numba-IR level,
because LLVM alone does not inline helpers with array arguments into vector loops and each
such call costs reference counting.
"""

from __future__ import annotations

from typing import Any

JIT: dict[str, Any] = {"cache": True, "error_model": "numpy"}
INLINE: dict[str, Any] = {"inline": "always", "error_model": "numpy"}
