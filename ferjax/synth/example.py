"""render_example: the record of example `index` of a (config, seed) dataset, deterministic.

Layout of a split's examples: index i shows class classes[i % K] of subject
subjects[(i // K) % S] (variant i // (K * S)), so any prefix of K * S examples is balanced over
classes and subjects. All randomness comes from Generators seeded by (seed, subject[, label,
variant]); no global state is read, so a record is the same bytes in every process.
"""

from __future__ import annotations

import functools

import numpy as np

from ferjax import labels
from ferjax.synth.config import SynthConfig
from ferjax.synth.expression import Expression, sample_expression
from ferjax.synth.face_model import neutral_shape
from ferjax.synth.identity import Identity, sample_identity
from ferjax.synth.renderer import render
from ferjax.synth.scene import Scene, sample_scene
from ferjax.synth.splits import split_subjects, subject_fold

_IDENTITY_STREAM, _EXAMPLE_STREAM = 0, 1


@functools.lru_cache(maxsize=4096)
def _identity_and_neutral(variation: float, idiosyncrasy: float, seed: int,
                          subject_id: int) -> tuple[Identity, np.ndarray]:
    # A pure function of its arguments, memoised: a source renders the same few hundred
    # subjects over and over, and rebuilding them was a tenth of the render time.
    rng = np.random.default_rng([seed, _IDENTITY_STREAM, subject_id])
    idn = sample_identity(rng, variation, idiosyncrasy)
    neutral = neutral_shape(idn)
    neutral.setflags(write=False)
    return idn, neutral


def example_key(config: SynthConfig, index: int, split: str = "all") -> tuple[int, str, int]:
    """(subject_id, class name, variant) of example `index` of `split`."""
    index = int(index)
    if index < 0:
        raise IndexError(f"example index must be >= 0, got {index}")
    subjects = split_subjects(config, split)
    if subjects.size == 0:
        raise ValueError(f"split {split!r} has no subjects with split_fractions="
                         f"{config.split_fractions} and num_subjects={config.num_subjects}")
    k, s = len(config.classes), subjects.size
    return int(subjects[(index // k) % s]), config.classes[index % k], index // (k * s)


def _record(config, seed, subject_id, class_name, idn, expression, scene, rng,
            neutral) -> dict:
    out = render(config, idn, expression, scene, rng, neutral)
    record = {
        "image": out.image,
        "label": np.int64(labels.class_index(class_name)),
        "subject_id": np.int64(subject_id),
        "fold": np.int64(subject_fold(config, subject_id)),
        "landmarks": out.landmarks,
        "mask": out.mask,
        "au": expression.au,
        "au_regions": out.au_regions,
        "pose": scene.pose,
    }
    if config.composite:
        record["face"] = out.face
    return record


def render_subject_example(config: SynthConfig, seed: int, subject_id: int, class_name: str,
                           variant: int) -> dict:
    """The record of one (subject, class, variant); see docs/architecture.md for its keys."""
    idn, neutral = _identity_and_neutral(config.identity_variation, config.idiosyncrasy,
                                         int(seed), int(subject_id))
    rng = np.random.default_rng([int(seed), _EXAMPLE_STREAM, int(subject_id),
                                 labels.class_index(class_name), int(variant)])
    expression = sample_expression(config, idn, class_name, rng)
    scene = sample_scene(config, neutral, rng)
    return _record(config, seed, subject_id, class_name, idn, expression, scene, rng, neutral)


def render_example(config: SynthConfig, seed: int, index: int, split: str = "all") -> dict:
    """Record `index` of the `split` ('all', 'train', 'validation', 'test') of dataset `seed`.

    Returns a dict per docs/architecture.md: image uint8 (H, W, C), label int64, subject_id
    int64, fold int64, landmarks float32 (68, 2) pixels, mask uint8 (H, W, 1), au float32 (16,),
    au_regions uint16 (ceil(H/4), ceil(W/4)), pose float32 (3,) degrees; `composite` configs
    add face uint8 (H, W, C).
    """
    subject_id, class_name, variant = example_key(config, index, split)
    return render_subject_example(config, seed, subject_id, class_name, variant)


def render_controlled(config: SynthConfig, seed: int, subject_id: int,
                      expression: Expression, scene: Scene | None = None,
                      class_name: str = "neutral") -> dict:
    """A record with a chosen expression (and optionally scene) for one subject: for tests,
    figures and probing models with AU-controlled stimuli. Without a scene, the scene is
    drawn from (seed, subject) alone, so the same subject keeps the same pose and light."""
    idn, neutral = _identity_and_neutral(config.identity_variation, config.idiosyncrasy,
                                         int(seed), int(subject_id))
    rng = np.random.default_rng([int(seed), _EXAMPLE_STREAM, int(subject_id), 99, 0])
    if scene is None:
        scene = sample_scene(config, neutral, rng)
    return _record(config, seed, subject_id, class_name, idn, expression, scene, rng, neutral)
