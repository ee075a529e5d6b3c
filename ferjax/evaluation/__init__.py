"""Evaluation: metrics, cross-validation folds and the statistical comparison of methods."""
