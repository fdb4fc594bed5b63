"""analysis: entropy and information along dustsim trajectories.

Reads datasets in the trajectory schema (see ``docs/schema.md``) and returns xarray
Datasets; it never imports dustsim's simulator internals.
"""
