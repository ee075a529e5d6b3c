"""SynthConfig: every knob of the FERSynth renderer, validated, plus the named presets.

Angles are in degrees, lengths in pixels unless a field says otherwise, intensities in [0, 1].
Presets match the data regimes of the papers: `front` (aligned frontal, RaFD-FRONT-like),
`pose` (five yaw angles, unaligned, RaFD-POSE-like), `wild` (unaligned, clutter, occlusion,
distractor AUs, SFEW/AffectNet-like) and `composite` (FERAtt-style face cut out by its mask and
pasted on a background).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any

from ferjax import labels
from ferjax.synth.aus import AU_NAMES

BACKGROUND_KINDS = ("plain", "gradient", "clutter")


@dataclasses.dataclass(frozen=True)
class SynthConfig:
    """Renderer configuration (a frozen value; build variants with `preset(name, **overrides)`).

    Fields:
      image_size: (H, W) of the output image in pixels.
      channels: 1 (grey) or 3 (RGB).
      num_subjects: identities in the dataset (split into train/validation/test by id).
      split_fractions: fractions of subjects in (train, validation, test); sum to 1.
      num_folds: subject-disjoint folds for k-fold CV (fold = subject_id % num_folds).
      variants_per_class: examples per (subject, class) in one pass over a split: the size
        of the TFDS build and of FERSynthSource(num_examples=None).
      classes: emotion classes rendered (canonical names, see ferjax.labels.CLASSES).
      intensity_range: (lo, hi) intensity of the AUs that define the class.
      au_jitter: std of per-AU intensity noise around the class prototype.
      au_dropout: probability that each class AU is missing from an example (at least one
        stays), so prototypes are incomplete and classes overlap (fear without AU4/AU7 looks
        like surprise).
      idiosyncrasy: scale of per-subject AU gains and resting AU activity (0 = none).
      distractor_prob: probability that each non-class AU appears at low intensity.
      distractor_max: maximum intensity of a distractor AU.
      distractor_aus: AU names that may appear as distractors.
      identity_variation: scale of identity shape variation (0 = everyone the mean face).
      yaw_angles: yaw values (degrees) drawn uniformly per example; positive turns the nose
        to image right.
      yaw_jitter, pitch_range, roll_range: uniform +- ranges in degrees (positive pitch looks
        up, positive roll turns the face clockwise in the image).
      aligned: place the subject's neutral eye centres at fixed image positions (like an
        aligned crop) instead of a random scale and shift.
      face_scale: inter-ocular distance as a fraction of the image width.
      scale_range: (lo, hi) multiplicative jitter of the face size.
      shift_range: uniform +- shift of the face centre, as a fraction of the image size.
      light_range: uniform +- azimuth and elevation of the key light (degrees).
      ambient_range: (lo, hi) ambient fraction of the lighting.
      gain_range: (lo, hi) global brightness gain.
      blur_prob, blur_sigma_range: probability of a Gaussian blur and its sigma (pixels).
      noise_std_range: (lo, hi) std of additive Gaussian sensor noise (grey levels, 0-255).
      glasses_prob: probability of glasses (some of them sunglasses).
      fringe_prob: probability of a hair fringe over the forehead and brows.
      background_probs: probabilities of plain, gradient and procedural-clutter backgrounds.
      composite: cut the face out with its mask and paste it on the background (FERAtt);
        records then also carry `face`, the face alone on black.
    """

    image_size: tuple[int, int] = (160, 125)
    channels: int = 1
    num_subjects: int = 60
    split_fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
    num_folds: int = 5
    variants_per_class: int = 6
    classes: tuple[str, ...] = labels.CLASSES
    intensity_range: tuple[float, float] = (0.7, 1.0)
    au_jitter: float = 0.05
    au_dropout: float = 0.0
    idiosyncrasy: float = 0.1
    distractor_prob: float = 0.0
    distractor_max: float = 0.0
    distractor_aus: tuple[str, ...] = AU_NAMES
    identity_variation: float = 1.0
    yaw_angles: tuple[float, ...] = (0.0,)
    yaw_jitter: float = 0.0
    pitch_range: float = 0.0
    roll_range: float = 0.0
    aligned: bool = True
    face_scale: float = 0.36
    scale_range: tuple[float, float] = (1.0, 1.0)
    shift_range: float = 0.0
    light_range: float = 15.0
    ambient_range: tuple[float, float] = (0.55, 0.65)
    gain_range: tuple[float, float] = (0.95, 1.05)
    blur_prob: float = 0.0
    blur_sigma_range: tuple[float, float] = (0.5, 1.0)
    noise_std_range: tuple[float, float] = (0.0, 1.0)
    glasses_prob: float = 0.0
    fringe_prob: float = 0.0
    background_probs: tuple[float, float, float] = (1.0, 0.0, 0.0)
    composite: bool = False

    def __post_init__(self):
        for name, value in _normalised_tuples(self).items():
            object.__setattr__(self, name, value)
        validate(self)
        # NumPy integers (from arrays or configs) become ints so configs compare and print alike
        object.__setattr__(self, "image_size", tuple(int(v) for v in self.image_size))
        for name in ("channels", "num_subjects", "num_folds", "variants_per_class"):
            object.__setattr__(self, name, int(getattr(self, name)))

    @property
    def height(self) -> int:
        return self.image_size[0]

    @property
    def width(self) -> int:
        return self.image_size[1]

    @property
    def region_shape(self) -> tuple[int, int]:
        """Shape of the `au_regions` grid: one cell per 4x4 pixels."""
        return (math.ceil(self.height / 4), math.ceil(self.width / 4))


_TUPLE_FIELDS = ("image_size", "split_fractions", "classes", "intensity_range", "distractor_aus",
                 "yaw_angles", "scale_range", "ambient_range", "gain_range", "blur_sigma_range",
                 "noise_std_range", "background_probs")


def _normalised_tuples(config: SynthConfig) -> dict[str, tuple]:
    # Lists from ml_collections or JSON become tuples so that configs stay hashable values.
    out = {}
    for name in _TUPLE_FIELDS:
        value = getattr(config, name)
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise ValueError(f"SynthConfig.{name} must be a sequence, got {value!r}")
        out[name] = tuple(value)
    return out


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _fail(field: str, message: str):
    raise ValueError(f"SynthConfig.{field}: {message}")


def _check_probability(config, field):
    value = getattr(config, field)
    if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
        _fail(field, f"must be a probability in [0, 1], got {value!r}")


def _check_range(config, field, lo_bound, hi_bound):
    value = getattr(config, field)
    if len(value) != 2 or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in value):
        _fail(field, f"must be a (lo, hi) pair of finite numbers, got {value!r}")
    lo, hi = value
    if not (lo_bound <= lo <= hi <= hi_bound):
        _fail(field, f"must satisfy {lo_bound} <= lo <= hi <= {hi_bound}, got {value!r}")


def _check_nonnegative(config, field, upper=math.inf):
    value = getattr(config, field)
    if not (isinstance(value, (int, float)) and math.isfinite(value) and 0 <= value <= upper):
        _fail(field, f"must be a finite number in [0, {upper}], got {value!r}")


def validate(config: SynthConfig) -> None:
    """Raises ValueError naming the first invalid field of `config`."""
    size = config.image_size
    if len(size) != 2 or not all(_is_int(v) and v >= 16 for v in size):
        _fail("image_size", f"must be (H, W) with integer sides >= 16, got {size!r}")
    if config.channels not in (1, 3):
        _fail("channels", f"must be 1 or 3, got {config.channels!r}")
    if not (_is_int(config.num_subjects) and config.num_subjects > 0):
        _fail("num_subjects", f"must be a positive integer, got {config.num_subjects!r}")
    fractions = config.split_fractions
    if (len(fractions) != 3 or any(not isinstance(f, (int, float)) or f < 0 for f in fractions)
            or abs(sum(fractions) - 1.0) > 1e-6 or fractions[0] <= 0):
        _fail("split_fractions", "must be three non-negative (train, validation, test) fractions "
              f"summing to 1 with train > 0, got {fractions!r}")
    if not (_is_int(config.num_folds) and 1 <= config.num_folds <= config.num_subjects):
        _fail("num_folds", f"must be an integer in [1, num_subjects={config.num_subjects}], "
              f"got {config.num_folds!r}")
    if not (_is_int(config.variants_per_class) and config.variants_per_class > 0):
        _fail("variants_per_class", f"must be a positive integer, got "
              f"{config.variants_per_class!r}")
    if not config.classes:
        _fail("classes", "must name at least one class")
    for name in config.classes:
        if name not in labels.CLASS_INDEX:
            _fail("classes", f"unknown class {name!r}; expected names from {list(labels.CLASSES)}")
    if len(set(config.classes)) != len(config.classes):
        _fail("classes", f"has duplicates: {config.classes!r}")
    for name in config.distractor_aus:
        if name not in AU_NAMES:
            _fail("distractor_aus", f"unknown action unit {name!r}; expected names from "
                  f"{list(AU_NAMES)}")
    for field in ("intensity_range",):
        _check_range(config, field, 0.0, 1.0)
    for field in ("distractor_prob", "distractor_max", "au_dropout", "blur_prob",
                  "glasses_prob", "fringe_prob"):
        _check_probability(config, field)
    _check_nonnegative(config, "au_jitter", 1.0)
    _check_nonnegative(config, "idiosyncrasy", 1.0)
    _check_nonnegative(config, "identity_variation", 2.0)
    if not config.yaw_angles or not all(
            isinstance(a, (int, float)) and -90 <= a <= 90 for a in config.yaw_angles):
        _fail("yaw_angles", f"must be a non-empty list of angles in [-90, 90], got "
              f"{config.yaw_angles!r}")
    _check_nonnegative(config, "yaw_jitter", 90.0)
    _check_nonnegative(config, "pitch_range", 30.0)
    _check_nonnegative(config, "roll_range", 45.0)
    if not isinstance(config.aligned, bool):
        _fail("aligned", f"must be a bool, got {config.aligned!r}")
    if not (isinstance(config.face_scale, (int, float)) and 0.05 <= config.face_scale <= 0.8):
        _fail("face_scale", f"must be in [0.05, 0.8] (inter-ocular distance / width), got "
              f"{config.face_scale!r}")
    _check_range(config, "scale_range", 0.2, 3.0)
    _check_nonnegative(config, "shift_range", 0.5)
    _check_nonnegative(config, "light_range", 80.0)
    _check_range(config, "ambient_range", 0.0, 1.0)
    _check_range(config, "gain_range", 0.05, 3.0)
    _check_range(config, "blur_sigma_range", 0.0, 20.0)
    _check_range(config, "noise_std_range", 0.0, 128.0)
    probs = config.background_probs
    if (len(probs) != len(BACKGROUND_KINDS)
            or any(not isinstance(p, (int, float)) or not 0 <= p <= 1 for p in probs)
            or abs(sum(probs) - 1.0) > 1e-6):
        _fail("background_probs", f"must be {len(BACKGROUND_KINDS)} probabilities of "
              f"{BACKGROUND_KINDS} in [0, 1] summing to 1, got {probs!r}")
    if not isinstance(config.composite, bool):
        _fail("composite", f"must be a bool, got {config.composite!r}")


_PRESETS: dict[str, dict[str, Any]] = {
    # Aligned frontal faces at full intensity on a plain background: an easy task.
    "front": dict(),
    # Five RaFD-like camera angles, unaligned, otherwise controlled.
    "pose": dict(
        variants_per_class=5, yaw_angles=(-90.0, -45.0, 0.0, 45.0, 90.0), yaw_jitter=3.0,
        pitch_range=3.0, roll_range=3.0, aligned=False, face_scale=0.30,
        scale_range=(0.9, 1.1), shift_range=0.04, intensity_range=(0.6, 1.0)),
    # Unaligned faces in the wild: weaker and incomplete expressions, distractor AUs,
    # idiosyncrasies, pose, scale and shift, strong light, blur, noise, occluders and
    # cluttered backgrounds. Calibrated (1.2.0) so that the Sun et al. configs' default budget
    # (300 steps of 32) lands in the 50-85 % band: every field sits 30 % of the way from
    # `front` to WILD_HARD, the 1.1.0 settings, which kept those runs at chance
    # (docs/fersynth.md, "Difficulty").
    "wild": dict(
        image_size=(160, 125), channels=3, num_subjects=80, variants_per_class=4,
        intensity_range=(0.595, 1.0), au_jitter=0.08, au_dropout=0.045, idiosyncrasy=0.175,
        distractor_prob=0.06, distractor_max=0.12, identity_variation=1.09, yaw_angles=(0.0,),
        yaw_jitter=10.5, pitch_range=4.5, roll_range=6.0, aligned=False, face_scale=0.327,
        scale_range=(0.925, 1.06), shift_range=0.03, light_range=25.5,
        ambient_range=(0.475, 0.665), gain_range=(0.83, 1.14), blur_prob=0.15,
        blur_sigma_range=(0.5, 1.8), noise_std_range=(0.0, 4.3), glasses_prob=0.075,
        fringe_prob=0.075, background_probs=(0.76, 0.09, 0.15)),
    # FERAtt-style: the masked face pasted on gradients and clutter, mild variation.
    "composite": dict(
        image_size=(128, 128), channels=3, variants_per_class=5, intensity_range=(0.5, 1.0),
        au_jitter=0.08,
        idiosyncrasy=0.2, distractor_prob=0.1, distractor_max=0.3, yaw_jitter=15.0,
        pitch_range=8.0, roll_range=10.0, aligned=False, face_scale=0.26,
        scale_range=(0.85, 1.1), shift_range=0.06, light_range=35.0, ambient_range=(0.4, 0.7),
        gain_range=(0.8, 1.2), noise_std_range=(0.0, 4.0), glasses_prob=0.1,
        background_probs=(0.0, 0.4, 0.6), composite=True),
}

PRESET_NAMES: tuple[str, ...] = tuple(_PRESETS)

# FERSynth 1.1.0's `wild`: a much harder regime for long schedules, e.g.
# `synth.preset("wild", **WILD_HARD)` or `config.data.builder_kwargs = WILD_HARD`.
WILD_HARD: dict[str, Any] = dict(
    intensity_range=(0.35, 1.0), au_jitter=0.15, au_dropout=0.15, idiosyncrasy=0.35,
    distractor_prob=0.2, distractor_max=0.4, identity_variation=1.3, yaw_jitter=35.0,
    pitch_range=15.0, roll_range=20.0, face_scale=0.25, scale_range=(0.75, 1.2),
    shift_range=0.1, light_range=50.0, ambient_range=(0.3, 0.7), gain_range=(0.55, 1.35),
    blur_prob=0.5, noise_std_range=(0.0, 12.0), glasses_prob=0.25, fringe_prob=0.25,
    background_probs=(0.2, 0.3, 0.5))


def preset(name: str, **overrides: Any) -> SynthConfig:
    """The named preset ('front', 'pose', 'wild', 'composite') with field overrides applied."""
    if name not in _PRESETS:
        raise ValueError(f"unknown FERSynth preset {name!r}; expected one of {list(_PRESETS)}")
    fields = {f.name for f in dataclasses.fields(SynthConfig)}
    for key in overrides:
        if key not in fields:
            raise ValueError(f"SynthConfig has no field {key!r} (preset {name!r} override)")
    return SynthConfig(**{**_PRESETS[name], **overrides})
