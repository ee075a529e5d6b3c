"""RaFD (Radboud Faces Database) builder."""
