"""Experiment configs: one file per experiment, each composed from pieces.py.

Imported only as `ferjax.configs.<name>`, in a checkout and from an installed wheel alike; the
top-level `configs` folder of a checkout is a link here so that config files can be named by
path (`python launch.py --config=configs/sun_attention.py`), and is never imported as a
package (tests/test_layering.py checks).
"""
