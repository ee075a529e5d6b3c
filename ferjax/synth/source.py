"""FERSynthSource: a grain RandomAccessDataSource that renders records on the fly."""

from __future__ import annotations

import numpy as np

from ferjax import labels
from ferjax.synth.config import SynthConfig
from ferjax.synth.example import example_key, render_example
from ferjax.synth.splits import split_subjects, subject_fold


class FERSynthSource:
    """`num_examples` records of one split of dataset (config, seed), rendered on access.

    Record i is `render_example(config, seed, i, split)`: identical bytes in every process
    and worker, so grain can shuffle, shard and checkpoint it like an on-disk source.
    num_examples=None gives one pass over the split (subjects x classes x
    config.variants_per_class), the same records as the TFDS build; larger values keep
    drawing fresh variants of the split's subjects.
    """

    def __init__(self, config: SynthConfig, seed: int, num_examples: int | None = None,
                 split: str = "train"):
        if not isinstance(config, SynthConfig):
            raise TypeError(f"config must be a SynthConfig, got {type(config).__name__}")
        subjects = split_subjects(config, split)
        if subjects.size == 0:
            raise ValueError(f"split {split!r} has no subjects under this config")
        if num_examples is None:
            num_examples = subjects.size * len(config.classes) * config.variants_per_class
        if int(num_examples) <= 0:
            raise ValueError(f"num_examples must be positive, got {num_examples!r}")
        self.config = config
        self.seed = int(seed)
        self.num_examples = int(num_examples)
        self.split = split

    def __len__(self) -> int:
        return self.num_examples

    def __getitem__(self, index) -> dict:
        i = int(index)
        if not -self.num_examples <= i < self.num_examples:
            raise IndexError(f"index {index} out of range for {self.num_examples} examples")
        return render_example(self.config, self.seed, i % self.num_examples, self.split)

    def field_values(self, key: str) -> np.ndarray:
        """'label', 'subject_id' or 'fold' of every record, int64 (N,), without rendering."""
        keys = [example_key(self.config, i, self.split) for i in range(self.num_examples)]
        if key == "label":
            return np.array([labels.class_index(k[1]) for k in keys], np.int64)
        if key == "subject_id":
            return np.array([k[0] for k in keys], np.int64)
        if key == "fold":
            return np.array([subject_fold(self.config, k[0]) for k in keys], np.int64)
        raise KeyError(f"field_values supports 'label', 'subject_id' and 'fold', not {key!r}")

    def __repr__(self) -> str:
        return (f"FERSynthSource(split={self.split!r}, seed={self.seed}, "
                f"num_examples={self.num_examples}, image_size={self.config.image_size})")
