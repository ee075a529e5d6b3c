"""Per-subject identity: face proportions, colours, hair style and AU idiosyncrasies.

All lengths are in face units: the face half-width at the cheekbones is about 1, y points down
and the eye line sits near y = -0.15 (see face_model.py).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ferjax.synth.aus import NUM_AUS

HAIR_STYLES = ("short", "long", "shaved", "bob")

# Skin albedos from light to dark (RGB); a subject's tone interpolates between them.
_SKIN_LIGHT = np.array([236.0, 204.0, 182.0])
_SKIN_DARK = np.array([92.0, 60.0, 44.0])
_HAIR_COLOURS = np.array([
    [28, 24, 22], [62, 42, 30], [105, 72, 45], [190, 160, 105], [150, 150, 150], [130, 62, 34]],
    dtype=np.float64)
_IRIS_COLOURS = np.array([[70, 45, 28], [62, 95, 130], [75, 105, 70], [110, 80, 50]],
                         dtype=np.float64)


# (mean, half-range) of each shape parameter, face units; drawn uniformly in one call.
_SHAPE = {
    "face_width": (0.97, 0.08), "jaw_top": (-0.08, 0.06), "chin_y": (1.12, 0.08),
    "jaw_power": (2.6, 0.5), "eye_x": (0.40, 0.035), "eye_y": (-0.15, 0.03),
    "eye_half_width": (0.165, 0.022), "eye_open": (1.0, 0.15), "brow_y": (-0.42, 0.04),
    "brow_arch": (0.06, 0.025), "brow_thickness": (0.055, 0.02), "nose_tip_y": (0.27, 0.04),
    "nose_half_width": (0.17, 0.03), "nose_protrusion": (1.0, 0.2), "mouth_y": (0.62, 0.04),
    "mouth_half_width": (0.33, 0.04), "upper_lip": (0.065, 0.018), "lower_lip": (0.085, 0.02),
    "hairline_y": (-0.86, 0.08),
}
_SHAPE_FIELDS = tuple(_SHAPE)
_SHAPE_MEANS = np.array([m for m, _ in _SHAPE.values()])
_SHAPE_SPREADS = np.array([s for _, s in _SHAPE.values()])


@dataclasses.dataclass(frozen=True)
class Identity:
    """Shape, colour and behaviour parameters of one subject (face units, RGB 0-255)."""

    face_width: float
    jaw_top: float
    chin_y: float
    jaw_power: float
    eye_x: float
    eye_y: float
    eye_half_width: float
    eye_open: float
    brow_y: float
    brow_arch: float
    brow_thickness: float
    nose_tip_y: float
    nose_half_width: float
    nose_protrusion: float
    mouth_y: float
    mouth_half_width: float
    upper_lip: float
    lower_lip: float
    hairline_y: float
    skin_rgb: np.ndarray
    lip_rgb: np.ndarray
    hair_rgb: np.ndarray
    brow_rgb: np.ndarray
    iris_rgb: np.ndarray
    clothing_rgb: np.ndarray
    hair_style: str
    hair_volume: float
    au_gain: np.ndarray
    au_rest: np.ndarray


def sample_identity(rng: np.random.Generator, variation: float = 1.0,
                    idiosyncrasy: float = 0.1) -> Identity:
    """Draws one subject. `variation` scales shape spread; `idiosyncrasy` the AU quirks."""

    means, spreads = _SHAPE_MEANS, _SHAPE_SPREADS
    shape = means + variation * spreads * rng.uniform(-1.0, 1.0, means.size)
    params = dict(zip(_SHAPE_FIELDS, (float(v) for v in shape)))
    tone = rng.beta(1.3, 1.3)
    skin = (1 - tone) * _SKIN_LIGHT + tone * _SKIN_DARK
    hair = _HAIR_COLOURS[rng.integers(len(_HAIR_COLOURS))] * rng.uniform(0.85, 1.15)
    if tone > 0.5:  # dark-skinned subjects drawn mostly with dark hair, as in the population
        hair = _HAIR_COLOURS[rng.integers(2)] * rng.uniform(0.85, 1.15)
    lip = skin * np.array([0.86, 0.58, 0.58]) * rng.uniform(0.9, 1.05)
    brow = np.minimum(hair, skin) * rng.uniform(0.45, 0.8)
    rest = rng.uniform(0.0, 0.6 * idiosyncrasy, NUM_AUS) * (rng.random(NUM_AUS) < 0.3)
    return Identity(
        **params,
        skin_rgb=skin,
        lip_rgb=lip,
        hair_rgb=np.clip(hair, 0, 255),
        brow_rgb=brow,
        iris_rgb=_IRIS_COLOURS[rng.integers(len(_IRIS_COLOURS))],
        clothing_rgb=rng.uniform(20, 230, 3),
        hair_style=HAIR_STYLES[rng.choice(len(HAIR_STYLES), p=[0.45, 0.3, 0.1, 0.15])],
        hair_volume=float(rng.uniform(1.0, 1.12)),
        au_gain=np.exp(rng.normal(0.0, idiosyncrasy, NUM_AUS)),
        au_rest=rest,
    )
