"""ISED builder (a simple layout of the user's choosing)."""
