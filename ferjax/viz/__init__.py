"""Figures (matplotlib with the Agg backend: no display needed)."""
