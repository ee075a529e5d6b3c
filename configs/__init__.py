"""Experiment configs: one file per experiment, each composed from configs/pieces.py."""
