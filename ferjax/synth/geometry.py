"""Face-frame point sets of one render (head, hair, body, features, cue strokes), lifted onto
the face surface and projected in one batch: thousands of tiny NumPy calls would otherwise
dominate the render time."""

from __future__ import annotations

import functools

import numpy as np

from ferjax.synth.face_model import HEAD_CENTRE, Projection, contour_points, surface_z
from ferjax.synth.identity import Identity


@functools.lru_cache(maxsize=1)
def _unit_sphere() -> np.ndarray:
    """Sample points (N, 3) on the unit sphere, for head silhouettes."""
    az = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    el = np.linspace(-np.pi / 2, np.pi / 2, 7)
    a, e = np.meshgrid(az, el)
    pts = np.column_stack([(np.cos(e) * np.cos(a)).ravel(), np.sin(e).ravel(),
                           (np.cos(e) * np.sin(a)).ravel()])
    pts.setflags(write=False)
    return pts


@functools.lru_cache(maxsize=1)
def _unit_circle() -> tuple[np.ndarray, np.ndarray]:
    t = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    return np.cos(t), np.sin(t)


class Geometry:
    """Collects the face-frame points a render needs, lifts and projects them in one batch
    (thousands of tiny NumPy calls would otherwise dominate the render time)."""

    def __init__(self, idn: Identity):
        self._idn = idn
        self._names: list[str] = []
        self._points: list[np.ndarray] = []
        self._lift_names: list[str] = []
        self._lift_xy: list[np.ndarray] = []
        self._lift_dz: list[float] = []

    def add(self, name: str, points: np.ndarray) -> None:
        self._names.append(name)
        self._points.append(points)

    def lift(self, name: str, xy: np.ndarray, dz: float = 0.0) -> None:
        self._lift_names.append(name)
        self._lift_xy.append(xy)
        self._lift_dz.append(dz)

    def project(self, proj: Projection) -> dict[str, np.ndarray]:
        sizes = [len(p) for p in self._lift_xy]
        xy = np.concatenate(self._lift_xy)
        dz = np.repeat(self._lift_dz, sizes)
        lifted = np.column_stack([xy, surface_z(xy[:, 0], xy[:, 1], self._idn.face_width) + dz])
        names = self._names + self._lift_names
        sizes = [len(p) for p in self._points] + sizes
        flat = proj(np.concatenate(self._points + [lifted]))
        return dict(zip(names, np.split(flat, np.cumsum(sizes)[:-1])))


def _skull(idn: Identity, bottom: float) -> np.ndarray:
    """Points (N, 3) of the hair volume (an ellipsoid) above face-frame height `bottom`."""
    v = idn.hair_volume
    pts = _unit_sphere() * (1.07 * idn.face_width * v, 1.33 * v, 1.1 * v) + (0.0, -0.3, -0.4)
    # the hairline drops towards the nape: lower cut at the back of the head
    return pts[pts[:, 1] < bottom + 0.8 * np.maximum(-0.3 - pts[:, 2], 0.0)]


def _ring(x_radius: float, y: float, z_centre: float, z_radius: float) -> np.ndarray:
    c, s = _unit_circle()
    return np.column_stack([x_radius * c, np.full(c.size, y), z_centre + z_radius * s])


_HAIR_BOTTOM = {"short": 0.0, "bob": 0.35, "long": 0.5, "shaved": -0.1}
_HAIR_X = np.linspace(0.0, 0.97, 7)


def body_geometry(geo: Geometry, idn: Identity) -> None:
    w = idn.face_width
    geo.add("neck", np.concatenate([_ring(0.45 * w, 0.3, -0.4, 0.45),
                                    _ring(0.52 * w, 2.8, -0.45, 0.5)]))
    geo.add("clothes", np.array([
        (-2.8, 4.5, -0.45), (-2.6, 2.6, -0.45), (-1.9, 2.05, -0.45), (-0.5 * w, 1.72, -0.45),
        (0, 2.05, -0.45), (0.5 * w, 1.72, -0.45), (1.9, 2.05, -0.45), (2.6, 2.6, -0.45),
        (2.8, 4.5, -0.45)]))
    geo.add("cranium", _unit_sphere() * (0.95 * w, 1.2, 1.0) + (0.0, -0.15, -0.45))
    geo.add("skull", _skull(idn, _HAIR_BOTTOM[idn.hair_style]))
    if idn.hair_style in ("long", "bob"):
        low = 1.6 if idn.hair_style == "long" else 0.55
        for s in (-1.0, 1.0):
            geo.add(f"panel{s:+.0f}", np.array([
                [s * w, -0.6, -0.1], [s * 1.13 * w, 0.3, -0.25], [s * 1.08 * w, low, -0.3],
                [s * 0.62 * w, low + 0.1, -0.5], [s * 0.7 * w, 0.0, -0.6]]))
    else:
        c, s_ = _unit_circle()
        for s in (-1.0, 1.0):
            geo.add(f"ear{s:+.0f}", np.column_stack([
                s * (0.96 * w + 0.07 * (1 + c)), -0.07 + 0.2 * s_, -0.3 + 0.09 * c]))
    if idn.hair_style != "shaved":
        v = idn.hair_volume
        for s in (-1.0, 1.0):
            xs = s * w * _HAIR_X
            hairline = idn.hairline_y + 0.28 * (xs / w) ** 2
            hairline[-1] = -0.3
            geo.lift(f"hairline{s:+.0f}", np.column_stack([xs, hairline]), 0.03)
            ox = xs * 1.08 * v
            top = -0.3 - 1.32 * v * np.sqrt(np.maximum(1 - (ox / (1.1 * w * v)) ** 2, 0.0))
            geo.add(f"haircap{s:+.0f}", np.column_stack([ox, top, np.full(xs.size, -0.1)])[::-1])


def face_geometry(geo: Geometry, idn: Identity, shape: np.ndarray) -> None:
    geo.add("lm", shape)
    geo.lift("contour", contour_points(idn)[:, :2])
    for s, wing in ((-1.0, 31), (1.0, 35)):
        geo.add(f"nose_side{s:+.0f}", np.array([
            [s * 0.05, shape[27, 1] + 0.05, shape[28, 2] - 0.05],
            [s * 0.065, shape[29, 1], shape[29, 2] - 0.06],
            [s * 0.09, shape[30, 1] - 0.03, shape[30, 2] - 0.1],
            shape[wing] + (-s * 0.01, -0.04, 0.0)]))
        geo.lift(f"crease{s:+.0f}", shape[wing, :2] + np.array(
            [(-s * 0.02, -0.07), (s * 0.02, -0.02), (0.0, 0.02)]), 0.06)
    for corner, wing in ((48, 31), (54, 35)):  # the faint resting nasolabial fold
        geo.lift(f"fold{corner}", np.array([
            shape[wing, :2] + (0.0, -0.03),
            shape[corner, :2] + (np.sign(shape[corner, 0]) * 0.07, -0.02)]))
    geo.add("under_nose", (shape[33] + (0.0, 0.05, -0.05))[None])
    geo.add("shade_centre", np.array([[0.0, 0.0, HEAD_CENTRE[2]]]))
    top, bottom = shape[[60, 61, 62, 63, 64]], shape[[60, 67, 66, 65, 64]]
    gap = bottom[:, 1] - top[:, 1]
    if gap.max() > 0.06:  # open mouth: teeth bands hanging from the inner lips
        safe = np.maximum(gap, 1e-6)[:, None]
        geo.add("teeth", np.concatenate([top, (top + (bottom - top) * np.minimum(
            0.05 / safe, 0.8))[::-1]]))
        if gap.max() > 0.12:
            geo.add("low_teeth", np.concatenate([bottom, (bottom + (top - bottom) * np.minimum(
                0.03 / safe, 0.4))[::-1]]))
