"""Experiment configs: one file per experiment, each composed from configs/pieces.py.

Imported as `ferjax.configs` (ferjax/configs links to this folder, so a source checkout and an
installed wheel import the same names); launch.py loads a config file by its path.
"""
