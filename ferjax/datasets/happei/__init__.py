"""HAPPEI: the builder (happei_dataset_builder.py) and its layout and label table (layout.py).
No default protocol: splits are as the user lays them out."""
