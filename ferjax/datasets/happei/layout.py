"""HAPPEI in a simple layout: labels are happiness intensities 0-5 (class folders '0'..'5' or
the CSV label column); every image gets the canonical label happy plus feature 'intensity'."""

from __future__ import annotations

import numpy as np

from ferjax import labels
from ferjax.data.real.label_codes import LabelCodeError
from ferjax.data.real.simple import SimpleItem

MAX_INTENSITY = 5


def intensity_label(item: SimpleItem) -> tuple[int, dict]:
    """(canonical happy, {'intensity': 0..5}); LabelCodeError naming the item otherwise."""
    code = item.code.strip()
    if not code.isdigit() or not 0 <= int(code) <= MAX_INTENSITY:
        raise LabelCodeError(f"{item.where}: unknown HAPPEI label code {code!r}; "
                             f"expected an intensity 0..{MAX_INTENSITY}")
    return labels.class_index("happy"), {"intensity": np.int64(int(code))}
