"""SFEW 2.0 builder."""
