"""Any class-folder tree: the builder (class_folder_dataset_builder.py) and its layout and label table (layout.py).
No default protocol: splits are as the user lays them out."""
