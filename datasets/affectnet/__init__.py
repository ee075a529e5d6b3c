"""AffectNet builder (CSV and npy releases)."""
