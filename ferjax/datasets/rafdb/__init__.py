"""RAF-DB (basic): the builder (rafdb_dataset_builder.py), its file layout and label table
(layout.py) and its evaluation protocol (PROTOCOL: the records' `fold` holds the folds when
kind == "folds")."""

from ferjax.data.splits import Protocol

PROTOCOL = Protocol("rafdb", "official", test_split="test")
