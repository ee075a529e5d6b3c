"""Shared machinery of the real-dataset builders: the generic builder base class, image
loading, the face preprocessing hook, label-code reading, the shared layout scanners (named
files, simple user layouts) and the prepare report.

Each dataset's own parts live together in its package ferjax/datasets/<name>/ (imported as
ferjax.datasets.<name>): the builder, layout.py (its file layout parser and label table) and
its evaluation PROTOCOL in __init__.py. A layout parser turns the user's manual_dir into
`RawExample`s per split; `RealDatasetBuilder` loads, preprocesses and writes them.
"""
