"""RaFD (Radboud Faces Database): the builder (rafd_dataset_builder.py), its file layout and label table
(layout.py) and its evaluation protocol (PROTOCOL: the records' `fold` holds the folds when
kind == "folds")."""

from ferjax.data.splits import Protocol

PROTOCOL = Protocol("rafd", "folds", num_folds=5, note="Sun et al.'s subject ranges")
