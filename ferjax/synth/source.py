"""FERSynthSource: a grain RandomAccessDataSource that renders records on the fly."""

from __future__ import annotations

from ferjax.synth.config import SynthConfig
from ferjax.synth.example import render_example
from ferjax.synth.splits import split_subjects


class FERSynthSource:
    """`num_examples` records of one split of dataset (config, seed), rendered on access.

    Record i is `render_example(config, seed, i, split)`: identical bytes in every process
    and worker, so grain can shuffle, shard and checkpoint it like an on-disk source.
    """

    def __init__(self, config: SynthConfig, seed: int, num_examples: int, split: str = "train"):
        if not isinstance(config, SynthConfig):
            raise TypeError(f"config must be a SynthConfig, got {type(config).__name__}")
        if int(num_examples) <= 0:
            raise ValueError(f"num_examples must be positive, got {num_examples!r}")
        if split_subjects(config, split).size == 0:
            raise ValueError(f"split {split!r} has no subjects under this config")
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

    def __repr__(self) -> str:
        return (f"FERSynthSource(split={self.split!r}, seed={self.seed}, "
                f"num_examples={self.num_examples}, image_size={self.config.image_size})")
