"""TFDS builders of ferjax, one package per dataset: builder, layout and label table, protocol.

Imported only as `ferjax.datasets.<name>`: a top-level package named `datasets` would shadow
Hugging Face's package of that name (tests/test_builder_loader.py).
"""
