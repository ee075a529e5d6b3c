"""KDEF builder."""
