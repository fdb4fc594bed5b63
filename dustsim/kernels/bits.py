"""Bit casts between IEEE-754 floats and unsigned integers of the same width.

Numba has no scalar ``view`` for floats; these LLVM ``bitcast`` intrinsics compile to no
instruction at all and keep the loops around them vectorisable (a ``np.frombuffer`` round
trip would not).
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic


@intrinsic
def f32_as_u32(typingctx, value):  # noqa: ARG001 - Numba intrinsic signature
    """Reinterpret the bits of a float32 as a uint32."""

    def codegen(context, builder, signature, args):  # noqa: ARG001
        return builder.bitcast(args[0], ir.IntType(32))

    return types.uint32(types.float32), codegen


@intrinsic
def u32_as_f32(typingctx, value):  # noqa: ARG001
    """Reinterpret the bits of a uint32 as a float32."""

    def codegen(context, builder, signature, args):  # noqa: ARG001
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.uint32), codegen


@intrinsic
def f64_as_u64(typingctx, value):  # noqa: ARG001
    """Reinterpret the bits of a float64 as a uint64."""

    def codegen(context, builder, signature, args):  # noqa: ARG001
        return builder.bitcast(args[0], ir.IntType(64))

    return types.uint64(types.float64), codegen


@intrinsic
def u64_as_f64(typingctx, value):  # noqa: ARG001
    """Reinterpret the bits of a uint64 as a float64."""

    def codegen(context, builder, signature, args):  # noqa: ARG001
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.uint64), codegen
