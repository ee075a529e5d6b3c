"""Shared machinery of the real-dataset builders: layout parsers, image loading, the face
preprocessing hook, the prepare report and the generic builder base class.

Builders in datasets/<name>/ stay thin: a layout parser turns the user's manual_dir into
`RawExample`s per split; `RealDatasetBuilder` loads, preprocesses and writes them.
"""
