"""Numba kernels: the only place in dustsim where compiled code lives.

Every kernel is pure (arrays in, arrays out or updated in place) and knows nothing of
configs, datasets or files; the orchestration around them is plain Python in the modules
one level up.

Modules
-------
bits
    Bit casts between IEEE floats and unsigned integers (LLVM intrinsics).
rng
    The counter-based random number generator: Philox4x32-10 and vectorisable
    Box-Muller normals.
affine
    Exact-kernel and Euler-Maruyama steppers for the linear (Gaussian) processes.
space
    Boundaries per axis: minimum-image displacement, wrap/reflect shift.
trig
    ``sin(2 pi u)`` per precision, vectorisable (the cosine potential's force).
forces
    The dispatch over the external potentials and pair interactions, generated from their
    definitions (:mod:`dustsim.physics.potential_defs`, :mod:`dustsim.physics.pair_defs`);
    fixed-point force sums.
cells
    Cell grids and counting sort for O(N) pair forces.
euler
    Euler-Maruyama steppers for overdamped Langevin dynamics with forces.
verlet
    The pair-force stepper: Verlet neighbour lists with a skin, rebuilt on displacement
    (same trajectory as a cell list rebuilt every step, bit for bit).
"""
