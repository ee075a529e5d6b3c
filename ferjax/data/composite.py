"""FERAtt's synthetic compositing renderer (paper §3.4) as a grain random transform.

A face image and its face mask are placed on a background under a random similarity transform
plus a 3-point affine warp, the face's Lab luminance is matched to the background under it, an
alpha matte blends the two, and photometric augmentation follows (grey, CLAHE, noise, blur).
Alongside the composite it returns the face-only target (the warped face on black, without the
illumination change) and the warped mask, all in the same frame, for FERAtt's attention loss.

Use: `grain.MapDataset.source(records).random_map(CompositeTransform(settings, backgrounds),
seed=s)`; grain derives each element's generator from (seed, index), so a given (seed, index)
renders the same image on every run, worker count and epoch order.

Backgrounds: any callable `(rng, size) -> uint8 (size, size, 3)`, an array stack
(N, H, W, 3) or a folder of images (random crops), or the built-in procedural generator.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
from typing import Any, Callable, Mapping

import cv2
import grain
import numpy as np
from scipy import ndimage

BackgroundSource = Callable[[np.random.Generator, int], np.ndarray]
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


@dataclasses.dataclass(frozen=True)
class CompositeSettings:
    """Renderer parameters (defaults: the authors' training settings).

    Sizes in pixels; translation and warp as fractions of render_size; noise sigma as a
    fraction of the 0..255 range; probabilities in [0, 1].
    """

    render_size: int = 128          # face resized to this square
    pad: int = 10                   # per side: canvas = 148 for 128, as the code
    output_size: int = 64           # final image side (paper 128, code 64)
    channels: int = 3               # 1 or 3 (grey replicated, as the code)
    grey: bool = True
    scale: float = 0.2              # scale factor uniform in 1 ± scale
    flip_prob: float = 0.5
    max_rotation: float = 30.0      # degrees
    max_translation: float = 0.2
    max_warp: float = 0.1
    luminance_clip: tuple[float, float] = (0.5, 1.5)
    matte_kernel: int = 5           # odd Gaussian kernel softening the alpha matte edge
    clahe_prob: float = 0.25
    noise_prob: float = 0.5
    noise_sigma_max: float = 0.02
    blur_prob: float = 0.25
    blur_sigma_max: float = 1.0

    def __post_init__(self):
        if self.channels not in (1, 3):
            raise ValueError(f"CompositeSettings.channels must be 1 or 3, got {self.channels}")
        if self.channels == 1 and not self.grey:
            raise ValueError("CompositeSettings: channels=1 needs grey=True")
        if self.matte_kernel < 1 or self.matte_kernel % 2 == 0:
            raise ValueError(f"CompositeSettings.matte_kernel must be odd, got {self.matte_kernel}")
        lo, hi = self.luminance_clip
        if not 0 < lo <= hi:
            raise ValueError(f"CompositeSettings.luminance_clip must be 0 < lo <= hi, got "
                             f"{self.luminance_clip}")
        for name in ("flip_prob", "clahe_prob", "noise_prob", "blur_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"CompositeSettings.{name} must be in [0, 1]")

    @property
    def canvas_size(self) -> int:
        return self.render_size + 2 * self.pad


def evaluation_settings(settings: CompositeSettings = CompositeSettings()) -> CompositeSettings:
    """The code's harder test-time rendering: rotation 45°, translation 0.3, warp 0.2."""
    return dataclasses.replace(settings, max_rotation=45.0, max_translation=0.3, max_warp=0.2)


# ----------------------------------------------------------------------------------------------
# Backgrounds

def procedural_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A cluttered colour background: a two-colour gradient, low-frequency colour noise and a
    few random filled shapes. Returns uint8 (size, size, 3)."""
    ramp = np.linspace(0.0, 1.0, size, dtype=np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    t = (np.cos(angle) * ramp[None, :] + np.sin(angle) * ramp[:, None])
    t = (t - t.min()) / max(float(np.ptp(t)), 1e-6)
    c0, c1 = rng.uniform(0, 255, (2, 3)).astype(np.float32)
    image = c0 + t[..., None] * (c1 - c0)
    cells = int(rng.integers(2, 8))
    blobs = rng.normal(0, 40, (cells, cells, 3)).astype(np.float32)
    image += cv2.resize(blobs, (size, size), interpolation=cv2.INTER_CUBIC)
    image = np.clip(image, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(0, 6))):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = (int(v) for v in rng.integers(0, size, 2))
        extent = int(rng.integers(size // 16 + 1, size // 3 + 2))
        if rng.random() < 0.5:
            cv2.circle(image, (x, y), extent, colour, thickness=-1)
        else:
            cv2.rectangle(image, (x, y), (x + extent, y + extent // 2 + 1), colour, thickness=-1)
    return image


def _random_crop(image: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    h, w = image.shape[:2]
    if min(h, w) < size:
        factor = size / min(h, w)
        image = cv2.resize(image, (max(size, round(w * factor)), max(size, round(h * factor))),
                           interpolation=cv2.INTER_LINEAR)
        h, w = image.shape[:2]
    y = int(rng.integers(0, h - size + 1))
    x = int(rng.integers(0, w - size + 1))
    return np.ascontiguousarray(image[y:y + size, x:x + size])


def _as_rgb(image: np.ndarray, what: str) -> np.ndarray:
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[-1] not in (1, 3) or image.dtype != np.uint8:
        raise ValueError(f"{what}: expected uint8 (H, W, 1|3), got {image.dtype} {image.shape}")
    return np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image


@dataclasses.dataclass(frozen=True)
class ArrayBackgrounds:
    """Random crops of a stack of uint8 images (N, H, W, 3) (or (N, H, W) grey)."""

    images: np.ndarray

    def __post_init__(self):
        if self.images.ndim not in (3, 4) or len(self.images) == 0:
            raise ValueError(f"ArrayBackgrounds: expected a non-empty (N, H, W[, 3]) stack, "
                             f"got shape {self.images.shape}")

    def __call__(self, rng: np.random.Generator, size: int) -> np.ndarray:
        image = _as_rgb(self.images[int(rng.integers(len(self.images)))], "ArrayBackgrounds")
        return _random_crop(image, rng, size)


@dataclasses.dataclass(frozen=True)
class FolderBackgrounds:
    """Random crops of the images in a folder (searched recursively), read on demand."""

    folder: str

    def __post_init__(self):
        root = pathlib.Path(self.folder)
        if not root.is_dir():
            raise FileNotFoundError(f"background folder {self.folder} does not exist")
        files = sorted(str(p) for p in root.rglob("*") if p.suffix.lower() in _IMAGE_SUFFIXES)
        if not files:
            raise ValueError(f"background folder {self.folder} holds no images "
                             f"({', '.join(_IMAGE_SUFFIXES)})")
        object.__setattr__(self, "files", tuple(files))

    def __call__(self, rng: np.random.Generator, size: int) -> np.ndarray:
        path = self.files[int(rng.integers(len(self.files)))]
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"background image {path} cannot be read (corrupt or not an image)")
        return _random_crop(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), rng, size)


@dataclasses.dataclass(frozen=True)
class FERSynthBackgrounds:
    """FERSynth's procedural backgrounds (ferjax.synth), kinds drawn with the given odds
    (default: its `composite` preset's gradient/clutter mix)."""

    kinds: tuple[str, ...] = ("gradient", "clutter")
    probs: tuple[float, ...] = (0.4, 0.6)

    def __call__(self, rng: np.random.Generator, size: int) -> np.ndarray:
        from ferjax import synth  # noqa: PLC0415 - the renderer is usable without FERSynth

        kind = self.kinds[int(rng.choice(len(self.kinds), p=np.asarray(self.probs) /
                                         np.sum(self.probs)))]
        return synth.render_background(rng, kind, (size, size, 3))


def as_background_source(source: Any = None) -> BackgroundSource:
    """None or "" → the built-in procedural generator; "fersynth" → FERSynthBackgrounds; a
    callable → itself; an array → ArrayBackgrounds; another path → FolderBackgrounds."""
    if source is None or (isinstance(source, str) and not source):
        return procedural_background
    if isinstance(source, str) and source == "fersynth":
        return FERSynthBackgrounds()
    if isinstance(source, np.ndarray):
        return ArrayBackgrounds(source)
    if isinstance(source, (str, pathlib.Path)):
        return FolderBackgrounds(str(source))
    if callable(source):
        return source
    raise TypeError(f"background source must be None, a callable, an array or a folder path, "
                    f"got {type(source).__name__}")


# ----------------------------------------------------------------------------------------------
# Geometry and photometry (pure functions of their inputs and a numpy Generator)

def sample_affine(rng: np.random.Generator, settings: CompositeSettings) -> np.ndarray:
    """Random 2×3 affine map of the canvas: scale, flip, rotation and translation about the
    centre, followed by a 3-point affine warp (each point moved by up to max_warp·size)."""
    size, canvas = settings.render_size, settings.canvas_size
    centre = canvas / 2.0
    scale = rng.uniform(1 - settings.scale, 1 + settings.scale)
    flip = -1.0 if rng.random() < settings.flip_prob else 1.0
    theta = math.radians(rng.uniform(-settings.max_rotation, settings.max_rotation))
    shift = rng.uniform(-settings.max_translation, settings.max_translation, 2) * size
    cos, sin = math.cos(theta) * scale, math.sin(theta) * scale
    linear = np.array([[cos * flip, -sin], [sin * flip, cos]])
    similarity = np.eye(3)
    similarity[:2, :2] = linear
    similarity[:2, 2] = centre + shift - linear @ np.array([centre, centre])
    src = np.float32([[0, 0], [canvas, 0], [0, canvas]])
    dst = src + rng.uniform(-settings.max_warp, settings.max_warp, (3, 2)).astype(np.float32) * size
    warp = np.eye(3)
    warp[:2] = cv2.getAffineTransform(src, dst)
    return (warp @ similarity)[:2]


def clean_mask(mask: np.ndarray) -> np.ndarray:
    """Close small gaps, erode the boundary by a pixel and fill holes. bool (H, W) → bool."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    m = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, kernel)
    m = cv2.erode(m, np.ones((3, 3), np.uint8))
    return ndimage.binary_fill_holes(m > 0)


def match_luminance(face: np.ndarray, mask: np.ndarray, background: np.ndarray,
                    clip: tuple[float, float] = (0.5, 1.5)) -> tuple[np.ndarray, float]:
    """Scales the face's Lab L channel by w = clip(mean L_background / mean L_face, clip) where
    both means run over the mask. face/background uint8 RGB (H, W, 3), mask bool (H, W).
    Returns (adjusted face uint8 RGB, w); w = 1 for an empty mask."""
    if not mask.any():
        return face, 1.0
    face_lab = cv2.cvtColor(face, cv2.COLOR_RGB2LAB).astype(np.float32)
    back_l = cv2.cvtColor(background, cv2.COLOR_RGB2LAB)[..., 0].astype(np.float32)
    face_mean = float(face_lab[..., 0][mask].mean())
    ratio = float(back_l[mask].mean()) / face_mean if face_mean > 0 else clip[1]
    factor = float(np.clip(ratio, *clip))
    face_lab[..., 0] = np.clip(face_lab[..., 0] * factor, 0, 255)
    return cv2.cvtColor(face_lab.astype(np.uint8), cv2.COLOR_LAB2RGB), factor


def _transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def warp_cell_bits(regions: np.ndarray, face_shape: tuple[int, int], matrix: np.ndarray,
                   settings: CompositeSettings, cell: int = 4) -> np.ndarray:
    """Carries a per-cell bit map (e.g. FERSynth's au_regions, uint16 (ceil(H/cell),
    ceil(W/cell)) over the face image) through the renderer's geometry: expanded to pixels,
    resized and warped with nearest-neighbour sampling like the mask, then OR-pooled back to
    cells of the output image. Returns uint16 (ceil(S/cell), ceil(S/cell))."""
    h, w = face_shape
    full = np.repeat(np.repeat(np.asarray(regions, np.uint16), cell, 0), cell, 1)[:h, :w]
    size, canvas, out, pad = (settings.render_size, settings.canvas_size, settings.output_size,
                              settings.pad)
    full = cv2.resize(full, (size, size), interpolation=cv2.INTER_NEAREST)
    full = cv2.copyMakeBorder(full, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    full = cv2.warpAffine(full, matrix, (canvas, canvas), flags=cv2.INTER_NEAREST,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    full = cv2.resize(full, (out, out), interpolation=cv2.INTER_NEAREST)
    cells = -(-out // cell)
    full = np.pad(full, ((0, cells * cell - out), (0, cells * cell - out)))
    return np.bitwise_or.reduce(full.reshape(cells, cell, cells, cell), axis=(1, 3)).astype(
        np.uint16)


def _photometric(image: np.ndarray, rng: np.random.Generator, settings: CompositeSettings):
    """CLAHE, noise and blur on a uint8 (H, W) grey or (H, W, 3) RGB image."""
    if rng.random() < settings.clahe_prob:
        clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 4))
        if image.ndim == 2:
            image = clahe.apply(image)
        else:
            lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)
            lab[..., 0] = clahe.apply(np.ascontiguousarray(lab[..., 0]))
            image = cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)
    out = image.astype(np.float32)
    if rng.random() < settings.noise_prob:
        sigma = rng.uniform(0, settings.noise_sigma_max) * 255.0
        out = out + rng.normal(0, sigma, out.shape).astype(np.float32)
    if rng.random() < settings.blur_prob:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.1, settings.blur_sigma_max))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _finish_channels(image: np.ndarray, settings: CompositeSettings) -> np.ndarray:
    if image.ndim == 2:
        image = image[..., None]
    return np.repeat(image, settings.channels, axis=-1) if image.shape[-1] == 1 else image


def render(face: np.ndarray, mask: np.ndarray, background: np.ndarray,
           rng: np.random.Generator, settings: CompositeSettings,
           landmarks: np.ndarray | None = None,
           au_regions: np.ndarray | None = None) -> dict[str, Any]:
    """Composites one face on one background.

    Args:
      face: uint8 (H, W, 1|3) face image. mask: uint8 (H, W[, 1]), face where > 127.
      background: uint8 (canvas, canvas, 3) RGB, canvas = settings.canvas_size.
      landmarks: optional (L, 2) (x, y) pixel coordinates in `face`'s frame (NaN = absent).
      au_regions: optional uint16 (ceil(H/4), ceil(W/4)) AU bit map of `face` (FERSynth).
    Returns a dict with, at output_size S and C = settings.channels:
      "image" uint8 (S, S, C) composite; "face" uint8 (S, S, C) warped face on black without
      the luminance change; "mask" uint8 (S, S, 1) in {0, 255}; "landmarks" (L, 2) in the
      output frame and "au_regions" (ceil(S/4), ceil(S/4)) (when given); "matrix" (2, 3)
      canvas affine; "luminance_factor" float.
    """
    face = _as_rgb(face, "composite face image")
    mask = np.asarray(mask)
    mask = mask[..., 0] if mask.ndim == 3 else mask
    if mask.shape != face.shape[:2]:
        raise ValueError(f"composite: mask shape {mask.shape} does not match face image "
                         f"{face.shape[:2]}")
    canvas, size = settings.canvas_size, settings.render_size
    background = _as_rgb(np.asarray(background), "composite background")
    if background.shape[:2] != (canvas, canvas):
        raise ValueError(f"composite: background must be {canvas}×{canvas}, got "
                         f"{background.shape[:2]}")

    face_r = cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA)
    mask_r = cv2.resize((mask > 127).astype(np.uint8) * 255, (size, size),
                        interpolation=cv2.INTER_NEAREST)
    pad = settings.pad
    face_c = cv2.copyMakeBorder(face_r, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    mask_c = cv2.copyMakeBorder(mask_r, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)

    matrix = sample_affine(rng, settings)
    warped_face = cv2.warpAffine(face_c, matrix, (canvas, canvas), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    warped_mask = cv2.warpAffine(mask_c, matrix, (canvas, canvas), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=0) > 127
    face_mask = clean_mask(warped_mask)

    lit_face, factor = match_luminance(warped_face, face_mask, background,
                                       settings.luminance_clip)
    k = settings.matte_kernel
    alpha = cv2.GaussianBlur(face_mask.astype(np.float32), (k, k), 0)[..., None]
    composite = background.astype(np.float32) * (1 - alpha) + lit_face.astype(np.float32) * alpha
    composite = np.clip(np.rint(composite), 0, 255).astype(np.uint8)
    target = warped_face * face_mask[..., None].astype(np.uint8)

    if settings.grey:
        composite = cv2.cvtColor(composite, cv2.COLOR_RGB2GRAY)
        target = cv2.cvtColor(target, cv2.COLOR_RGB2GRAY)
    out = settings.output_size
    composite = cv2.resize(composite, (out, out), interpolation=cv2.INTER_AREA)
    target = cv2.resize(target, (out, out), interpolation=cv2.INTER_AREA)
    out_mask = cv2.resize(face_mask.astype(np.uint8) * 255, (out, out),
                          interpolation=cv2.INTER_AREA) > 127
    composite = _photometric(composite, rng, settings)

    result = {
        "image": _finish_channels(composite, settings),
        "face": _finish_channels(target, settings),
        "mask": (out_mask[..., None] * 255).astype(np.uint8),
        "matrix": matrix,
        "luminance_factor": factor,
    }
    if landmarks is not None:
        points = np.asarray(landmarks, np.float64)
        points = points * np.array([size / face.shape[1], size / face.shape[0]]) + pad
        result["landmarks"] = (_transform_points(points, matrix) * (out / canvas)).astype(
            np.float32)
    if au_regions is not None:
        result["au_regions"] = warp_cell_bits(au_regions, face.shape[:2], matrix, settings)
    return result


class CompositeTransform(grain.transforms.RandomMap):
    """grain random transform: record with "image" and "mask" → composited record.

    Replaces "image", "mask" and (when present) "landmarks" and "au_regions" by their rendered
    versions and adds "face" (the face-only target, replacing any stored one); "box" (a face
    box in the old frame) is dropped; other keys pass through. Records without a mask are an
    error naming the missing key.
    """

    def __init__(self, settings: CompositeSettings = CompositeSettings(),
                 backgrounds: Any = None):
        self.settings = settings
        self.backgrounds = as_background_source(backgrounds)

    def random_map(self, element: Mapping[str, Any], rng: np.random.Generator):
        for key in ("image", "mask"):
            if key not in element:
                raise KeyError(f"CompositeTransform needs record key {key!r}; the dataset must "
                               f"provide face masks (keys present: {sorted(element)})")
        background = self.backgrounds(rng, self.settings.canvas_size)
        landmarks = element.get("landmarks")
        au_regions = element.get("au_regions")
        rendered = render(element["image"], element["mask"], background, rng, self.settings,
                          landmarks=landmarks, au_regions=au_regions)
        out = {k: v for k, v in element.items() if k != "box"}
        out.update(image=rendered["image"], mask=rendered["mask"], face=rendered["face"])
        for key in ("landmarks", "au_regions"):
            if key in rendered:
                out[key] = rendered[key]
        return out


# ----------------------------------------------------------------------------------------------
# Source-level use: a fixed synthetic split, rendered deterministically per (seed, index)

class CompositeSource:
    """A random-access source of composites of `parent`'s (image, mask) records.

    Index i renders record i mod N with a generator seeded by (seed, i), so every read of i
    gives the same image; `multiplier` > 1 makes a split m times larger, each record on m
    different backgrounds and poses (the paper's enlarged synthetic sets).
    """

    def __init__(self, parent, transform: CompositeTransform, seed: int, multiplier: int = 1):
        if multiplier < 1:
            raise ValueError(f"composite multiplier must be >= 1, got {multiplier}")
        if len(parent) == 0:
            raise ValueError("composite: the source split is empty")
        self.parent, self.transform = parent, transform
        self.seed, self.multiplier = int(seed), int(multiplier)

    def __len__(self) -> int:
        return len(self.parent) * self.multiplier

    def __getitem__(self, i: int):
        if not 0 <= i < len(self):
            raise IndexError(i)
        rng = np.random.default_rng([self.seed, int(i)])
        return self.transform.random_map(self.parent[int(i) % len(self.parent)], rng)

    def field_values(self, key: str) -> np.ndarray:
        from ferjax.data import sources  # noqa: PLC0415 - avoids a module cycle at import

        return np.tile(sources.field_values(self.parent, key), self.multiplier)


class FaceTargetSource:
    """`parent`'s records plus "face" = image ⊗ (mask > 127), the face on black, unrendered."""

    def __init__(self, parent):
        self.parent = parent

    def __len__(self) -> int:
        return len(self.parent)

    def __getitem__(self, i: int):
        record = dict(self.parent[i])
        if "mask" not in record:
            raise KeyError(f"the face-only target needs record key 'mask' (keys present: "
                           f"{sorted(record)})")
        mask = np.asarray(record["mask"])
        mask = mask if mask.ndim == 3 else mask[..., None]
        record["face"] = np.asarray(record["image"]) * (mask > 127).astype(np.uint8)
        return record

    def field_values(self, key: str) -> np.ndarray:
        from ferjax.data import sources  # noqa: PLC0415 - avoids a module cycle at import

        return sources.field_values(self.parent, key)


def settings_from_config(cfg: Mapping[str, Any], evaluation: bool) -> CompositeSettings:
    """config.data.composite → CompositeSettings; evaluation applies the harder geometry when
    cfg["eval_harder"] (default True). Unknown setting names are an error."""
    fields = {f.name for f in dataclasses.fields(CompositeSettings)}
    given = {k: v for k, v in dict(cfg.get("settings", {}) or {}).items()}
    unknown = sorted(set(given) - fields)
    if unknown:
        raise ValueError(f"config.data.composite.settings has unknown names {unknown}; "
                         f"accepted: {sorted(fields)}")
    if "luminance_clip" in given:
        given["luminance_clip"] = tuple(given["luminance_clip"])
    settings = CompositeSettings(**given)
    if evaluation and cfg.get("eval_harder", True):
        settings = evaluation_settings(settings)
    return settings


def composite_sources(data_cfg: Mapping[str, Any], train, evaluation, *, seed: int):
    """The pipeline hook: wraps the train/eval sources in CompositeSource when
    config.data.composite.enabled, else returns them unchanged.

    Disabled with "face_from_mask": True, records pass unchanged but gain the face-only target
    image ⊗ mask (FaceTargetSource), for datasets used as they are.
    config.data.composite = {"enabled": bool, "backgrounds": "" (procedural) or an image
    folder, "train_multiplier": int, "eval_multiplier": int, "eval_harder": bool,
    "settings": {CompositeSettings field: value}}. Train and eval use different seeds so the
    two splits never share a background draw.
    """
    cfg = data_cfg.get("composite") if hasattr(data_cfg, "get") else None
    if not cfg:
        return train, evaluation
    if not cfg.get("enabled", False):
        if cfg.get("face_from_mask", False):
            return FaceTargetSource(train), FaceTargetSource(evaluation)
        return train, evaluation
    backgrounds = cfg.get("backgrounds") or None
    train_t = CompositeTransform(settings_from_config(cfg, evaluation=False), backgrounds)
    eval_t = CompositeTransform(settings_from_config(cfg, evaluation=True), backgrounds)
    return (CompositeSource(train, train_t, seed=2 * seed,
                            multiplier=int(cfg.get("train_multiplier", 1))),
            CompositeSource(evaluation, eval_t, seed=2 * seed + 1,
                            multiplier=int(cfg.get("eval_multiplier", 1))))
