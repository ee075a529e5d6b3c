"""JAFFE builder."""
