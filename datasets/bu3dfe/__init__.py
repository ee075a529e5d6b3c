"""BU-3DFE (2-D frontal images) builder."""
