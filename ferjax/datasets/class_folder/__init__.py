"""Any class-folder tree: the builder (class_folder_dataset_builder.py) and its layout and label table (layout.py).
No default protocol (splits are as the user lays them out), except for the CK+48 copy (config
ck48): CK+'s 10-fold subject-independent cross-validation over the S-numbers in its file names.
"""

from ferjax.data.splits import Protocol

PROTOCOLS = {
    "ck48": Protocol("class_folder", "folds", num_folds=10,
                     note="CK+48: 10 subject-disjoint folds of sorted S-numbers (as ckplus)"),
}
