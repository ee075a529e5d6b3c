"""The compositing renderer's parameters and their reading from config.data.composite."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

MASK_CLEANINGS = ("code", "light")


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
    luminance_l_range: tuple[float, float] = (10.0, 90.0)  # Lab L (0..100) after scaling, code
    mask_cleaning: str = "code"     # "code": 7×7 rect close+erode, fill; "light": 5×5 ellipse, 3×3
    minmax_norm: bool = True        # the code's per-channel (x − min)/max of face and background
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
        l_lo, l_hi = self.luminance_l_range
        if not 0 <= l_lo <= l_hi <= 100:
            raise ValueError(f"CompositeSettings.luminance_l_range must be 0 <= lo <= hi <= 100 "
                             f"(Lab L), got {self.luminance_l_range}")
        if self.mask_cleaning not in MASK_CLEANINGS:
            raise ValueError(f"CompositeSettings.mask_cleaning={self.mask_cleaning!r}; choose one "
                             f"of {MASK_CLEANINGS}")
        for name in ("flip_prob", "clahe_prob", "noise_prob", "blur_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"CompositeSettings.{name} must be in [0, 1]")

    @property
    def canvas_size(self) -> int:
        return self.render_size + 2 * self.pad


def evaluation_settings(settings: CompositeSettings = CompositeSettings()) -> CompositeSettings:
    """The code's harder test-time rendering: rotation 45°, translation 0.3, warp 0.2."""
    return dataclasses.replace(settings, max_rotation=45.0, max_translation=0.3, max_warp=0.2)


def settings_from_config(cfg: Mapping[str, Any], evaluation: bool) -> CompositeSettings:
    """config.data.composite → CompositeSettings; evaluation applies the harder geometry when
    cfg["eval_harder"] (default True). Unknown setting names are an error."""
    fields = {f.name for f in dataclasses.fields(CompositeSettings)}
    given = {k: v for k, v in dict(cfg.get("settings", {}) or {}).items()}
    unknown = sorted(set(given) - fields)
    if unknown:
        raise ValueError(f"config.data.composite.settings has unknown names {unknown}; "
                         f"accepted: {sorted(fields)}")
    for name in ("luminance_clip", "luminance_l_range"):
        if name in given:
            given[name] = tuple(given[name])
    settings = CompositeSettings(**given)
    if evaluation and cfg.get("eval_harder", True):
        settings = evaluation_settings(settings)
    return settings
