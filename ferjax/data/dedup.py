"""config.data.dedup: drop training records whose image is identical to an evaluation image.

FER-2013's PrivateTest shares a few hundred images with Training (byte-identical rows); a model
that has seen an image in training is not tested on it. Images are compared by a content hash
of the decoded record pixels and shape (ferjax.data.real.report.image_hash), so copies stored
as different files or CSV rows are found; near-duplicates (re-encoded, rescaled) are not.
"""

from __future__ import annotations

import numpy as np

from ferjax.data import sources
from ferjax.data.real.report import image_hash


def image_hashes(source) -> list[str]:
    """Content hash of every record's image, in source order (decodes every record)."""
    return [image_hash(np.asarray(source[i]["image"])) for i in range(len(source))]


def without_eval_copies(train, evaluation) -> tuple[sources.SubsetSource, int]:
    """(train without the records whose image equals an image of `evaluation`, how many were
    dropped)."""
    held_out = set(image_hashes(evaluation))
    keep = np.array([h not in held_out for h in image_hashes(train)], bool)
    return sources.SubsetSource(train, np.flatnonzero(keep)), int(np.sum(~keep))
