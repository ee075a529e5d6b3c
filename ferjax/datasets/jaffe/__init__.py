"""JAFFE: the builder (jaffe_dataset_builder.py), its file layout and label table
(layout.py) and its evaluation protocol (PROTOCOL: the records' `fold` holds the folds when
kind == "folds")."""

from ferjax.data.splits import Protocol

PROTOCOL = Protocol("jaffe", "folds", num_folds=10, note="leave-one-subject-out")
