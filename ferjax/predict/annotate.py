"""Annotated copies of predicted images: each face's box and label on the image, and in a side
panel the model's input crop (with its attention map over it where the model has one) and a
probability bar per class."""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

PANEL = 240           # side panel width, pixels
THUMB = 64            # side of the model-input thumbnail
BAR_H = 12            # one class's bar height
BOX_BGR = (0, 220, 0)
BAR_BGR = (220, 160, 40)
TOP_BGR = (0, 200, 255)


def heat_overlay(crop: np.ndarray, attention: np.ndarray | None) -> np.ndarray:
    """uint8 (h, w, C) model input (+ (h', w') attention) -> BGR (THUMB, THUMB·w/h, 3)."""
    grey = crop[..., 0] if crop.shape[-1] == 1 else cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    width = max(1, round(THUMB * crop.shape[1] / crop.shape[0]))
    base = cv2.cvtColor(cv2.resize(grey, (width, THUMB)), cv2.COLOR_GRAY2BGR)
    if attention is None:
        return base
    att = cv2.resize(np.asarray(attention, np.float32), (width, THUMB),
                     interpolation=cv2.INTER_LINEAR)
    att = (255 * (att - att.min()) / max(float(att.max() - att.min()), 1e-12)).astype(np.uint8)
    return cv2.addWeighted(base, 0.55, cv2.applyColorMap(att, cv2.COLORMAP_JET), 0.45, 0)


def annotate(image: np.ndarray, records: Sequence[dict], class_names: Sequence[str]
             ) -> np.ndarray:
    """RGB uint8 (H, W, C) and its prediction records (with "input"/"attention" when
    explained) -> BGR uint8 (max(H, panel height), W + PANEL, 3) for cv2.imwrite."""
    image = np.asarray(image)
    bgr = cv2.cvtColor(image if image.shape[-1] == 3 else np.repeat(image, 3, -1),
                       cv2.COLOR_RGB2BGR)
    faces = [r for r in records if r.get("label")]
    block = THUMB + 8 + BAR_H * len(class_names) + 12
    height = max(bgr.shape[0], 20 + block * len(faces))
    canvas = np.full((height, bgr.shape[1] + PANEL, 3), 255, np.uint8)
    canvas[:bgr.shape[0], :bgr.shape[1]] = bgr
    font, x_panel = cv2.FONT_HERSHEY_SIMPLEX, bgr.shape[1] + 8
    if not faces:
        reason = next((r.get("reason") for r in records if r.get("reason")), "no face")
        cv2.putText(canvas, reason, (x_panel, 20), font, 0.45, (0, 0, 200), 1, cv2.LINE_AA)
    for i, r in enumerate(faces):
        x0, y0, x1, y1 = (int(round(v)) for v in r["box"])
        top = r["probabilities"][r["label"]]
        cv2.rectangle(canvas, (x0, y0), (x1, y1), BOX_BGR, 2)
        cv2.putText(canvas, f"{r['face']}: {r['label']} {top:.2f}", (x0, max(12, y0 - 4)),
                    font, 0.45, BOX_BGR, 1, cv2.LINE_AA)
        y = 10 + i * block
        if r.get("input") is not None:
            thumb = heat_overlay(r["input"], r.get("attention"))[:, :PANEL - 16]
            canvas[y:y + THUMB, x_panel:x_panel + thumb.shape[1]] = thumb
        cv2.putText(canvas, f"face {r['face']}", (x_panel + THUMB + 12, y + 14), font, 0.45,
                    (0, 0, 0), 1, cv2.LINE_AA)
        y += THUMB + 8
        for name in class_names:
            p = r["probabilities"][name]
            colour = TOP_BGR if name == r["label"] else BAR_BGR
            cv2.rectangle(canvas, (x_panel + 70, y + 2),
                          (x_panel + 70 + int(round(p * (PANEL - 90))), y + BAR_H - 2),
                          colour, -1)
            cv2.putText(canvas, name[:9], (x_panel, y + BAR_H - 2), font, 0.35, (0, 0, 0), 1,
                        cv2.LINE_AA)
            y += BAR_H
    return canvas
