"""SFEW 2.0: the builder (sfew_dataset_builder.py), its file layout and label table
(layout.py) and its evaluation protocol (PROTOCOL: the records' `fold` holds the folds when
kind == "folds")."""

from ferjax.data.splits import Protocol

PROTOCOL = Protocol("sfew", "official", test_split="validation", note="test labels withheld")
