"""TFDS builders of ferjax, one package per dataset.

Imported as `ferjax_datasets` (see ferjax/data/builders.py), never as `datasets`, which is
Hugging Face's package name.
"""
