"""Explanation: attention maps, Grad-CAM and their scoring against action-unit regions."""
