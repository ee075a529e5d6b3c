"""Evaluation: classification metrics, cross-validation, statistics, landmark metrics."""
