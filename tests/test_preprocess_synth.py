"""MTCNN on FERSynth renders: the face is found and its 5 points agree with the renderer's
ground-truth landmarks."""

import numpy as np
import pytest

from ferjax.preprocess.align import five_points_from_68
from ferjax.preprocess.mtcnn import MTCNN
from ferjax.synth.config import preset
from ferjax.synth.example import render_example


@pytest.fixture(scope="module")
def detector():
    return MTCNN()


@pytest.mark.parametrize("index", range(7))  # one example of each class
def test_mtcnn_finds_fersynth_face(detector, index):
    record = render_example(preset("front", image_size=(160, 160), channels=3), 0, index)
    found = detector.detect(record["image"])
    assert len(found) >= 1
    truth = five_points_from_68(record["landmarks"])
    inter_ocular = np.linalg.norm(truth[1] - truth[0])
    best = int(np.argmax(found.scores))
    assert np.abs(found.points[best] - truth).max() < 0.15 * inter_ocular
    x1, y1, x2, y2 = found.boxes[best]
    assert ((truth >= [x1, y1]) & (truth <= [x2, y2])).all()
