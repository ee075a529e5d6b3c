"""Greedy NMS: hand-computed cases and agreement with OpenCV's NMSBoxes for IoU."""

import cv2
import numpy as np
import pytest

from ferjax.preprocess.nms import nms, overlap_with


def test_overlap_hand_computed():
    box = np.array([0.0, 0.0, 10.0, 10.0])
    others = np.array([[5.0, 0.0, 15.0, 10.0], [2.0, 2.0, 4.0, 4.0], [20.0, 20.0, 30.0, 30.0]])
    np.testing.assert_allclose(overlap_with(box, others, "union"), [50 / 150, 4 / 100, 0.0])
    np.testing.assert_allclose(overlap_with(box, others, "min"), [0.5, 1.0, 0.0])


def test_greedy_keeps_box_whose_suppressor_was_suppressed():
    # A (best) suppresses B; B would suppress C, but B is gone, and C barely touches A.
    boxes = np.array([[0.0, 0, 10, 10], [4.0, 0, 14, 10], [9.0, 0, 19, 10]])
    scores = np.array([0.9, 0.8, 0.7])
    np.testing.assert_array_equal(nms(boxes, scores, 0.3), [0, 2])


def test_min_method_suppresses_contained_box():
    boxes = np.array([[0.0, 0, 100, 100], [10.0, 10, 30, 30]])
    scores = np.array([0.9, 0.95])
    np.testing.assert_array_equal(nms(boxes, scores, 0.7, "union"), [1, 0])
    np.testing.assert_array_equal(nms(boxes, scores, 0.7, "min"), [1])


def test_matches_opencv_for_iou():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 100, (300, 2))
    wh = rng.uniform(5, 40, (300, 2))
    boxes = np.concatenate([xy, xy + wh], axis=1)
    scores = rng.permutation(300) / 300.0  # distinct scores: no tie-order ambiguity
    ours = nms(boxes, scores, 0.4)
    theirs = cv2.dnn.NMSBoxes([list(map(float, np.r_[b[:2], b[2:] - b[:2]])) for b in boxes],
                              scores.tolist(), 0.0, 0.4)
    assert 100 < len(ours) < 300
    np.testing.assert_array_equal(ours, np.asarray(theirs).ravel())


def test_empty_and_bad_shapes():
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).shape == (0,)
    with pytest.raises(ValueError, match=r"boxes \(N, 4\)"):
        nms(np.zeros((3, 5)), np.zeros(3), 0.5)
    with pytest.raises(ValueError, match="overlap method"):
        nms(np.zeros((1, 4)), np.zeros(1), 0.5, "iou")
