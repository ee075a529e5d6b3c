"""Per-example AU intensities for an emotion class: prototype, jitter, quirks, distractors."""

from __future__ import annotations

import dataclasses

import numpy as np

from ferjax.synth.aus import AU_NAMES, EMOTION_AUS, NUM_AUS, UNILATERAL_CLASSES
from ferjax.synth.config import SynthConfig
from ferjax.synth.identity import Identity


@dataclasses.dataclass(frozen=True)
class Expression:
    """AU intensities in [0, 1] on the subject's right (image-left) and left halves."""

    right: np.ndarray  # float64 (NUM_AUS,)
    left: np.ndarray   # float64 (NUM_AUS,)

    @property
    def au(self) -> np.ndarray:
        """The recorded intensity vector: the stronger side of each AU, float32 (NUM_AUS,)."""
        return np.maximum(self.right, self.left).astype(np.float32)


def neutral_expression() -> Expression:
    zeros = np.zeros(NUM_AUS)
    return Expression(zeros, zeros.copy())


def sample_expression(config: SynthConfig, identity: Identity, class_name: str,
                      rng: np.random.Generator) -> Expression:
    """AU intensities of one example of `class_name` for `identity`.

    Class AUs get a shared intensity drawn from config.intensity_range, per-AU jitter and the
    subject's gain; every subject carries its resting AU activity; each allowed distractor AU
    appears with config.distractor_prob at up to config.distractor_max. Unilateral classes
    (contempt) act on one random side only.
    """
    level = rng.uniform(*config.intensity_range)
    primary = np.zeros(NUM_AUS)
    for name in EMOTION_AUS[class_name]:
        k = AU_NAMES.index(name)
        primary[k] = level * identity.au_gain[k] + config.au_jitter * rng.normal()
    distract = np.zeros(NUM_AUS)
    allowed = np.array([name in config.distractor_aus for name in AU_NAMES])
    draws = (rng.random(NUM_AUS) < config.distractor_prob) & allowed & (primary == 0)
    distract[draws] = rng.uniform(0.0, config.distractor_max, int(draws.sum()))
    base = np.clip(identity.au_rest + distract, 0.0, 1.0)
    primary = np.clip(primary, 0.0, 1.0)
    if class_name in UNILATERAL_CLASSES:
        if rng.random() < 0.5:
            return Expression(np.maximum(base, primary), base.copy())
        return Expression(base.copy(), np.maximum(base, primary))
    both = np.maximum(base, primary)
    return Expression(both, both.copy())
