"""Sweeps: many launch.py runs declared next to a config, run anywhere, resumed, collected.

A config file may define `get_sweep(arg)` returning a list of override dicts (build them with
ferjax.sweep.spec). `python -m ferjax.sweep --config=configs/x.py[:arg] --workdir=runs/x`
expands it, checks every field against the config, writes a manifest and runs the points
(locally, in parallel, or as a written SLURM / TPU-VM script). `python -m ferjax.collect`
turns the points' results into tables.
"""
