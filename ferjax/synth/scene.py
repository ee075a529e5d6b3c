"""Per-example scene: head pose and placement, light, camera degradations, occluders."""

from __future__ import annotations

import dataclasses

import numpy as np

from ferjax import ibug68
from ferjax.synth.config import BACKGROUND_KINDS, SynthConfig
from ferjax.synth.face_model import HEAD_CENTRE, Projection, rotation

GLASSES_NONE, GLASSES_CLEAR, GLASSES_SUN = 0, 1, 2
_EYE_LINE = 0.39  # aligned crops put the eye centres at this fraction of the height


@dataclasses.dataclass(frozen=True)
class Scene:
    """Everything about an example that is not identity or expression."""

    yaw: float
    pitch: float
    roll: float
    projection: Projection
    light: np.ndarray  # unit vector towards the key light, camera frame (x right, y down)
    ambient: float
    gain: float
    blur_sigma: float
    noise_std: float
    glasses: int
    fringe: bool
    background: str

    @property
    def pose(self) -> np.ndarray:
        return np.array([self.yaw, self.pitch, self.roll], dtype=np.float32)


def _placement(config: SynthConfig, neutral: np.ndarray, rot: np.ndarray,
               rng: np.random.Generator) -> tuple[float, np.ndarray]:
    """(pixels per face unit, image position of the head pivot)."""
    h, w = config.image_size
    if config.aligned:
        eyes = np.stack([neutral[ibug68.RIGHT_EYE].mean(0), neutral[ibug68.LEFT_EYE].mean(0)]) - HEAD_CENTRE
        eyes = eyes @ rot[:2].T
        scale = config.face_scale * w / max(np.linalg.norm(eyes[1] - eyes[0]), 1e-6)
        centre = np.array([w / 2.0, _EYE_LINE * h]) - scale * eyes.mean(0)
        return float(scale), centre
    scale = config.face_scale * w / 0.8 * rng.uniform(*config.scale_range)
    shift = config.shift_range * rng.uniform(-1.0, 1.0, 2) * (w, h)
    return float(scale), np.array([w / 2.0, h / 2.0 - 0.02 * scale]) + shift


def sample_scene(config: SynthConfig, neutral: np.ndarray, rng: np.random.Generator) -> Scene:
    """Draws pose, placement, light, degradations, occluders and background kind.

    neutral: the subject's neutral (68, 3) shape, used to align the eyes in aligned configs.
    """
    yaw = (float(config.yaw_angles[rng.integers(len(config.yaw_angles))])
           + config.yaw_jitter * rng.uniform(-1, 1))
    yaw = float(np.clip(yaw, -90.0, 90.0))
    pitch = config.pitch_range * rng.uniform(-1, 1)
    roll = config.roll_range * rng.uniform(-1, 1)
    rot = rotation(yaw, pitch, roll)
    scale, centre = _placement(config, neutral, rot, rng)
    az, el = np.deg2rad(config.light_range * rng.uniform(-1, 1, 2) * (1.0, 0.5) + (0.0, 15.0))
    light = np.array([np.sin(az) * np.cos(el), -np.sin(el), np.cos(az) * np.cos(el)])
    blur = rng.uniform(*config.blur_sigma_range) if rng.random() < config.blur_prob else 0.0
    glasses = GLASSES_NONE
    if rng.random() < config.glasses_prob:
        glasses = GLASSES_SUN if rng.random() < 0.3 else GLASSES_CLEAR
    return Scene(
        yaw=yaw, pitch=float(pitch), roll=float(roll),
        projection=Projection(rot, scale, centre, HEAD_CENTRE),
        light=light, ambient=float(rng.uniform(*config.ambient_range)),
        gain=float(rng.uniform(*config.gain_range)), blur_sigma=float(blur),
        noise_std=float(rng.uniform(*config.noise_std_range)), glasses=glasses,
        fringe=bool(rng.random() < config.fringe_prob),
        background=_pick(BACKGROUND_KINDS, config.background_probs, rng.random()))


def _pick(options, probabilities, u: float):
    """The option whose cumulative-probability bin holds u in [0, 1)."""
    total = 0.0
    for option, p in zip(options, probabilities):
        total += p
        if u < total:
            return option
    return options[-1]
