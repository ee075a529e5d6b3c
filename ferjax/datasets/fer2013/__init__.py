"""FER-2013 (and FER+ labels): the builder (fer2013_dataset_builder.py), its file layout and label table
(layout.py) and its evaluation protocol (PROTOCOL: the records' `fold` holds the folds when
kind == "folds")."""

from ferjax.data.splits import Protocol

PROTOCOL = Protocol("fer2013", "official", test_split="test", validation_split="validation",
                    note="Training / PrivateTest; PublicTest ('validation') selects the model")
