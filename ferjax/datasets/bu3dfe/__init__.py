"""BU-3DFE (2-D images): the builder (bu3dfe_dataset_builder.py), its file layout and label table
(layout.py) and its evaluation protocol (PROTOCOL: the records' `fold` holds the folds when
kind == "folds")."""

from ferjax.data.splits import Protocol

PROTOCOL = Protocol("bu3dfe", "folds", num_folds=10, note="10-fold subject-independent")
