"""FERSynth: expressive faces rendered from facial action units, with full ground truth.

Builder configs match the data regimes of the papers: `front` (aligned frontal, 160x125 grey),
`pose` (five yaw angles, unaligned), `wild` (unaligned, clutter, occlusion, weak and mixed
expressions, RGB 112x112) and `composite` (face cut out by its mask over gradient and clutter
backgrounds, RGB 128x128; adds the clean `face`). Splits `train`/`validation`/`test` are
subject-disjoint (70/15/15 % of subjects); every example carries its subject's `fold`.

Sizes: pass a FERSynthBuilderConfig, e.g.
    Builder(config=FERSynthBuilderConfig(name="front_big", preset="front",
            variants_per_class=20, overrides=(("num_subjects", 200),)), data_dir=...)
Any ferjax.synth.SynthConfig field can be overridden the same way. Records are
`ferjax.synth.render_subject_example(config, seed, subject, class, variant)`, so the same
config and seed build identical files anywhere.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import tensorflow_datasets as tfds

from ferjax import labels, synth

_ZLIB = tfds.features.Encoding.ZLIB


@dataclasses.dataclass(eq=False)
class FERSynthBuilderConfig(tfds.core.BuilderConfig):
    """preset: ferjax.synth preset name; overrides: (field, value) pairs applied to it;
    variants_per_class: examples per (subject, class); seed: the dataset seed."""

    preset: str = "front"
    overrides: tuple[tuple[str, Any], ...] = ()
    variants_per_class: int = 6
    seed: int = 0

    def __post_init__(self):
        if not isinstance(self.variants_per_class, int) or self.variants_per_class < 1:
            raise ValueError(f"FERSynthBuilderConfig.variants_per_class must be a positive "
                             f"integer, got {self.variants_per_class!r}")
        self.synth_config  # validates the preset and overrides now, naming the bad field

    @property
    def synth_config(self) -> synth.SynthConfig:
        return synth.preset(self.preset, **dict(self.overrides))


# Defaults: a few thousand images each, building in well under a minute on 2 cores.
_DEFAULT_CONFIGS = [
    FERSynthBuilderConfig(
        name="front", preset="front", variants_per_class=6,
        description="Aligned frontal grey faces, 160x125, strong expressions, plain "
                    "background (RaFD-FRONT-like). 60 subjects x 8 classes x 6."),
    FERSynthBuilderConfig(
        name="pose", preset="pose", variants_per_class=5,
        description="Five camera yaws (-90, -45, 0, 45, 90 deg), unaligned, grey 160x125 "
                    "(RaFD-POSE-like). 60 subjects x 8 classes x 5."),
    FERSynthBuilderConfig(
        name="wild", preset="wild", variants_per_class=4,
        description="Unaligned RGB 112x112: weak and mixed expressions, distractor AUs, "
                    "pose, clutter, glasses, fringes, light, blur, noise (SFEW/AffectNet-"
                    "like). 80 subjects x 8 classes x 4."),
    FERSynthBuilderConfig(
        name="composite", preset="composite", variants_per_class=5,
        description="FERAtt-style: the masked face pasted on gradient and clutter "
                    "backgrounds, RGB 128x128, with the clean face as `face`. 60 subjects x 8 "
                    "classes x 5."),
]


def features_for(config: synth.SynthConfig) -> tfds.features.FeaturesDict:
    """The TFDS features of a FERSynth record (see docs/architecture.md)."""
    h, w = config.image_size
    c = config.channels
    spec = {
        "image": tfds.features.Tensor(shape=(h, w, c), dtype=np.uint8, encoding=_ZLIB),
        "label": tfds.features.ClassLabel(names=labels.CLASSES),
        "subject_id": tfds.features.Scalar(dtype=np.int64),
        "fold": tfds.features.Scalar(dtype=np.int64),
        "landmarks": tfds.features.Tensor(shape=(68, 2), dtype=np.float32),
        "mask": tfds.features.Tensor(shape=(h, w, 1), dtype=np.uint8, encoding=_ZLIB),
        "au": tfds.features.Tensor(shape=(synth.NUM_AUS,), dtype=np.float32),
        "au_regions": tfds.features.Tensor(shape=config.region_shape, dtype=np.uint16,
                                           encoding=_ZLIB),
        "pose": tfds.features.Tensor(shape=(3,), dtype=np.float32),
    }
    if config.composite:
        spec["face"] = tfds.features.Tensor(shape=(h, w, c), dtype=np.uint8, encoding=_ZLIB)
    return tfds.features.FeaturesDict(spec)


class Builder(tfds.core.GeneratorBasedBuilder):
    """DatasetBuilder for FERSynth (array_record by default; no TensorFlow needed)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    BUILDER_CONFIGS = _DEFAULT_CONFIGS

    def __init__(self, *, file_format=None, **kwargs):
        super().__init__(file_format=file_format or "array_record", **kwargs)

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=features_for(self.builder_config.synth_config),
            supervised_keys=("image", "label"),
            homepage="https://github.com/ferjax/ferjax",
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # everything is rendered
        config = self.builder_config.synth_config
        return {split: self._generate_examples(split) for split in synth.SPLITS
                if synth.split_subjects(config, split).size}

    def _generate_examples(self, split: str):
        bc = self.builder_config
        config = bc.synth_config
        for subject in synth.split_subjects(config, split):
            for class_name in config.classes:
                for variant in range(bc.variants_per_class):
                    record = synth.render_subject_example(config, bc.seed, int(subject),
                                                          class_name, variant)
                    yield f"{int(subject):05d}_{class_name}_{variant}", record
