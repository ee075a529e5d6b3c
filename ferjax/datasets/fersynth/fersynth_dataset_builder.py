"""FERSynth: expressive faces rendered from facial action units, with full ground truth.

Builder configs match the data regimes of the papers: `front` (aligned frontal, 160x125 grey),
`pose` (five yaw angles, unaligned), `wild` (unaligned, clutter, occlusion, weak and mixed
expressions, RGB 160x125) and `composite` (face cut out by its mask over gradient and clutter
backgrounds, RGB 128x128; adds the clean `face`). Splits `train`/`validation`/`test` are
subject-disjoint (70/15/15 % of subjects); every example carries its subject's `fold`.

Sizes and every other ferjax.synth.SynthConfig field are keyword overrides, which derive a
config named after them (so each variant prepares into its own folder):
    Builder(config="front", num_subjects=200, variants_per_class=20, data_dir=...)
    Builder(config="wild", image_size=(64, 64), seed=3)
or pass a FERSynthBuilderConfig(name=..., preset=..., overrides=((field, value), ...), seed=...).
Records are `ferjax.synth.render_subject_example(config, seed, subject, class, variant)` for
variant < variants_per_class, so the same config and seed build identical files anywhere and
equal FERSynthSource(config, seed, num_examples=None, split).
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import numpy as np
import tensorflow_datasets as tfds

from ferjax import labels, synth

_ZLIB = tfds.features.Encoding.ZLIB


@dataclasses.dataclass(eq=False)
class FERSynthBuilderConfig(tfds.core.BuilderConfig):
    """preset: ferjax.synth preset name; overrides: (SynthConfig field, value) pairs applied
    to it (sizes: num_subjects, variants_per_class, image_size, ...); seed: the dataset seed."""

    preset: str = "front"
    overrides: tuple[tuple[str, Any], ...] = ()
    seed: int = 0

    def __post_init__(self):
        if not isinstance(self.seed, int):
            raise ValueError(f"FERSynthBuilderConfig.seed must be an integer, got {self.seed!r}")
        self.synth_config  # validates the preset and overrides now, naming the bad field

    @property
    def synth_config(self) -> synth.SynthConfig:
        return synth.preset(self.preset, **dict(self.overrides))


# Defaults: a few thousand images each, building in well under a minute on 2 cores.
_DEFAULT_CONFIGS = [
    FERSynthBuilderConfig(
        name="front", preset="front",
        description="Aligned frontal grey faces, 160x125, strong expressions, plain "
                    "background (RaFD-FRONT-like). 60 subjects x 8 classes x 6."),
    FERSynthBuilderConfig(
        name="pose", preset="pose",
        description="Five camera yaws (-90, -45, 0, 45, 90 deg), unaligned, grey 160x125 "
                    "(RaFD-POSE-like). 60 subjects x 8 classes x 5."),
    FERSynthBuilderConfig(
        name="wild", preset="wild",
        description="Unaligned RGB 160x125: weak and mixed expressions, distractor AUs, "
                    "pose, clutter, glasses, fringes, light, blur, noise (SFEW/AffectNet-"
                    "like). 80 subjects x 8 classes x 4."),
    FERSynthBuilderConfig(
        name="composite", preset="composite",
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


_MAX_NAME = 120


def _slug(value) -> str:
    if isinstance(value, (tuple, list)):
        return "x".join(_slug(v) for v in value)
    return str(value).replace("/", "_").replace(" ", "")


def derived_config(base: FERSynthBuilderConfig, overrides: dict) -> FERSynthBuilderConfig:
    """`base` with SynthConfig overrides (and optionally `seed`), named after them
    ("front-image_size_64x64-num_subjects_10")."""
    overrides = dict(overrides)
    seed = overrides.pop("seed", base.seed)
    merged = {**dict(base.overrides), **overrides}
    changes = {**overrides, **({"seed": seed} if seed != base.seed else {})}
    name = base.name + "".join(f"-{k}_{_slug(v)}" for k, v in sorted(changes.items()))
    text = ", ".join(f"{k}={v!r}" for k, v in sorted(changes.items()))
    if len(name) > _MAX_NAME:
        # The name becomes a folder; file systems cap a component at 255 bytes, so many
        # overrides are named by a digest of their text (the description keeps it readable).
        name = f"{base.name}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"
    return FERSynthBuilderConfig(name=name, preset=base.preset, seed=seed,
                                 overrides=tuple(sorted(merged.items())),
                                 description=f"{base.name} with {text}")


class Builder(tfds.core.GeneratorBasedBuilder):
    """DatasetBuilder for FERSynth (array_record by default; no TensorFlow needed)."""

    VERSION = tfds.core.Version("1.2.0")
    RELEASE_NOTES = {"1.0.0": "Initial release.",
                     "1.1.0": "Renderer refinements (smiles keep eyes open, shaded neck); wild "
                              "at 160x125 with incomplete prototypes (au_dropout); "
                              "variants_per_class as a config field.",
                     "1.2.0": "wild recalibrated: 30 % of the way from front to the 1.1.0 "
                              "settings (kept as synth.WILD_HARD), which short runs could "
                              "not learn."}
    BUILDER_CONFIGS = _DEFAULT_CONFIGS

    def __init__(self, *, config=None, file_format=None, **kwargs):
        """As tfds's builders, plus keyword overrides of SynthConfig fields and `seed`, which
        derive a new named config. file_format defaults to array_record (tfds's default,
        tfrecord, needs TensorFlow)."""
        fields = {f.name for f in dataclasses.fields(synth.SynthConfig)} | {"seed"}
        overrides = {k: kwargs.pop(k) for k in list(kwargs) if k in fields}
        if overrides:
            config = derived_config(self._base_config(config), overrides)
        super().__init__(config=config, file_format=file_format or "array_record", **kwargs)

    @classmethod
    def _base_config(cls, config) -> FERSynthBuilderConfig:
        if isinstance(config, FERSynthBuilderConfig):
            return config
        name = config or cls.BUILDER_CONFIGS[0].name
        for candidate in cls.BUILDER_CONFIGS:
            if candidate.name == name:
                return candidate
        raise ValueError(f"unknown config {name!r}; available: "
                         f"{[c.name for c in cls.BUILDER_CONFIGS]}")

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
                for variant in range(config.variants_per_class):
                    record = synth.render_subject_example(config, bc.seed, int(subject),
                                                          class_name, variant)
                    yield f"{int(subject):05d}_{class_name}_{variant}", record
