"""MTCNN: Flax networks against a plain NumPy reference on the pretrained weights, the cascade's
pieces against hand-computed values, and detection on a real photograph."""

import pickle
import sys

import jax
import numpy as np
import pytest
from skimage import data

from ferjax.preprocess import mtcnn


@pytest.fixture(scope="module")
def variables():
    return mtcnn.load_mtcnn_params()


@pytest.fixture(scope="module")
def detector(variables):
    return mtcnn.MTCNN(variables)


@pytest.fixture(scope="module")
def astronaut_faces(detector):
    return detector.detect(data.astronaut())


# ---- NumPy reference of the three networks -------------------------------------------------

def np_conv(x, kernel, bias):
    """VALID stride-1 convolution, x (B, H, W, Cin), kernel (kh, kw, Cin, Cout)."""
    kh, kw = kernel.shape[:2]
    h, w = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    out = np.zeros((x.shape[0], h, w, kernel.shape[3]), np.float64)
    for i in range(kh):
        for j in range(kw):
            out += x[:, i:i + h, j:j + w, :] @ kernel[i, j]
    return out + bias


def np_prelu(x, alpha):
    return np.where(x >= 0, x, x * alpha)


def np_maxpool(x, size, stride, padding):
    """Max pooling with TensorFlow's SAME (extra padding at the end, -inf) or VALID rule."""
    def pads(n):
        if padding == "VALID":
            return (n - size) // stride + 1, 0
        out = -(-n // stride)
        total = max((out - 1) * stride + size - n, 0)
        return out, total // 2

    (oh, top), (ow, left) = pads(x.shape[1]), pads(x.shape[2])
    padded = np.full((x.shape[0], x.shape[1] + 2 * size, x.shape[2] + 2 * size, x.shape[3]),
                     -np.inf)
    padded[:, top:top + x.shape[1], left:left + x.shape[2]] = x
    out = np.empty((x.shape[0], oh, ow, x.shape[3]))
    for i in range(oh):
        for j in range(ow):
            window = padded[:, i * stride:i * stride + size, j * stride:j * stride + size]
            out[:, i, j] = window.max(axis=(1, 2))
    return out


def np_softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def np_block(x, p, conv, prelu):
    return np_prelu(np_conv(x, p[conv]["kernel"], p[conv]["bias"]), p[prelu]["alpha"])


def np_dense(x, p, name):
    return x @ p[name]["kernel"] + p[name]["bias"]


def np_flatten_wh(x):
    return np.transpose(x, (0, 2, 1, 3)).reshape(x.shape[0], -1)


def np_pnet(x, p):
    x = np_maxpool(np_block(x, p, "conv1", "prelu1"), 2, 2, "SAME")
    x = np_block(np_block(x, p, "conv2", "prelu2"), p, "conv3", "prelu3")
    return {"box": np_conv(x, p["conv4_1"]["kernel"], p["conv4_1"]["bias"]),
            "prob": np_softmax(np_conv(x, p["conv4_2"]["kernel"], p["conv4_2"]["bias"]))}


def np_rnet(x, p):
    x = np_maxpool(np_block(x, p, "conv1", "prelu1"), 3, 2, "SAME")
    x = np_maxpool(np_block(x, p, "conv2", "prelu2"), 3, 2, "VALID")
    x = np_flatten_wh(np_block(x, p, "conv3", "prelu3"))
    x = np_prelu(np_dense(x, p, "fc4"), p["prelu4"]["alpha"])
    return {"box": np_dense(x, p, "fc5_1"), "prob": np_softmax(np_dense(x, p, "fc5_2"))}


def np_onet(x, p):
    x = np_maxpool(np_block(x, p, "conv1", "prelu1"), 3, 2, "SAME")
    x = np_maxpool(np_block(x, p, "conv2", "prelu2"), 3, 2, "VALID")
    x = np_maxpool(np_block(x, p, "conv3", "prelu3"), 2, 2, "SAME")
    x = np_flatten_wh(np_block(x, p, "conv4", "prelu4"))
    x = np_prelu(np_dense(x, p, "fc5"), p["prelu5"]["alpha"])
    return {"box": np_dense(x, p, "fc6_1"), "points": np_dense(x, p, "fc6_2"),
            "prob": np_softmax(np_dense(x, p, "fc6_3"))}


NP_NETWORKS = {"pnet": np_pnet, "rnet": np_rnet, "onet": np_onet}


@pytest.mark.parametrize("net, shape", [("pnet", (2, 17, 14, 3)), ("rnet", (3, 24, 24, 3)),
                                        ("onet", (2, 48, 48, 3))])
def test_network_matches_numpy_reference_on_pretrained_weights(variables, net, shape):
    x = np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)
    got = mtcnn.NETWORKS[net]().apply(variables[net], x)
    want = NP_NETWORKS[net](x.astype(np.float64), variables[net]["params"])
    assert set(got) == set(want)
    for key in want:
        assert got[key].shape == want[key].shape, key
        np.testing.assert_allclose(np.asarray(got[key]), want[key], rtol=1e-4, atol=1e-4,
                                   err_msg=f"{net}.{key}")


def test_pnet_output_size_follows_same_pooling(variables):
    # 17 rows: conv 15 -> SAME pool ceil(15/2) = 8 -> two 3x3 convs -> 4 rows.
    out = jax.eval_shape(mtcnn.PNet().apply, variables["pnet"],
                         np.zeros((1, 17, 12, 3), np.float32))
    assert out["prob"].shape == (1, 4, 1, 2)
    assert mtcnn.pnet_valid_size(17) == 3 and mtcnn.pnet_valid_size(12) == 1


def test_weights_load_without_tensorflow(variables):
    assert "tensorflow" not in sys.modules
    assert "mtcnn" not in sys.modules  # read by path, the package is never imported
    assert variables["rnet"]["params"]["fc4"]["kernel"].shape == (576, 128)
    assert variables["onet"]["params"]["fc6_2"]["kernel"].shape == (256, 10)


def test_keras_weights_layout_errors_name_the_layer(variables):
    arrays = []
    for name in mtcnn.WEIGHT_LAYOUT["pnet"]:
        leaves = variables["pnet"]["params"][name]
        arrays += [leaves["alpha"]] if "alpha" in leaves else [leaves["kernel"], leaves["bias"]]
    with pytest.raises(ValueError, match="expected 13 weight arrays, got 12"):
        mtcnn.keras_weights_to_params("pnet", arrays[:-1])
    arrays[0] = arrays[0][:, :, :2]
    with pytest.raises(ValueError, match=r"pnet\.conv1\.kernel"):
        mtcnn.keras_weights_to_params("pnet", arrays)


def test_missing_weight_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="pnet.lz4"):
        mtcnn.load_mtcnn_params(tmp_path)


# ---- cascade pieces ------------------------------------------------------------------------

def test_pyramid_scales_hand_computed():
    scales = mtcnn.pyramid_scales(100, 200, min_face_size=24, scale_factor=0.5)
    # 12/24 = 0.5 -> shorter side 50; 0.25 -> 25; 0.125 -> 12.5; 0.0625 -> 6.25 < 12 stops.
    np.testing.assert_allclose(scales, [0.5, 0.25, 0.125])


def test_pnet_candidates_geometry():
    prob = np.zeros((3, 4))
    prob[1, 2] = 0.9
    offsets = np.zeros((3, 4, 4))
    offsets[1, 2] = [0.5, 0.0, 0.0, -0.25]
    boxes = mtcnn.pnet_candidates(prob, offsets, scale_y=0.5, scale_x=0.25, threshold=0.6)
    # window at x = 2*2 = 4, y = 2*1 = 2, 12 wide; x1 += 6, y2 -= 3; then / scale.
    np.testing.assert_allclose(boxes, [[10 / 0.25, 2 / 0.5, 16 / 0.25, 11 / 0.5, 0.9]])


def test_square_and_regress_boxes():
    boxes = np.array([[10.0, 20.0, 30.0, 60.0, 0.5], [0.0, 0.0, 0.2, 0.2, 0.9]])
    squared = mtcnn.square_boxes(boxes)
    np.testing.assert_allclose(squared, [[0.0, 20.0, 40.0, 60.0, 0.5]])  # tiny box dropped
    moved = mtcnn.regress_boxes(squared, np.array([[0.1, -0.1, 0.0, 0.5]]))
    np.testing.assert_allclose(moved, [[4.1, 15.9, 40.0, 80.5, 0.5]])


def test_crop_patches_zero_pads_outside_image():
    image = np.ones((10, 10, 3), np.float32)
    patches = mtcnn.crop_patches(image, np.array([[-5.0, 0.0, 4.0, 9.0]]), size=10)
    assert patches.shape == (1, 10, 10, 3)
    np.testing.assert_allclose(patches[0, :, :5], 0.0)
    np.testing.assert_allclose(patches[0, :, 5:], 1.0)


def test_padded_pnet_matches_unpadded(detector, variables):
    level = np.random.default_rng(1).uniform(-1, 1, (30, 21, 3)).astype(np.float32)
    prob, offsets = mtcnn.run_pnet(detector.apply_fns["pnet"], variables["pnet"], level)
    direct = mtcnn.PNet().apply(variables["pnet"], level[None])
    assert prob.shape == (10, 5)  # (30-2)//2-4, (21-2)//2-4
    np.testing.assert_allclose(prob, np.asarray(direct["prob"])[0, :10, :5, 1], atol=1e-5)
    np.testing.assert_allclose(offsets, np.asarray(direct["box"])[0, :10, :5], atol=1e-5)


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="scale_factor"):
        mtcnn.MTCNNConfig(scale_factor=1.2)
    with pytest.raises(ValueError, match="thresholds"):
        mtcnn.MTCNNConfig(thresholds=(0.6, 0.7))


def test_detect_rejects_wrong_image(detector):
    with pytest.raises(ValueError, match="uint8"):
        detector.detect(np.zeros((20, 20, 3), np.float32))


# ---- detection on a real photograph --------------------------------------------------------

# skimage.data.astronaut() (512x512, Eileen Collins), positions read off the image by eye:
# eyes at about (202, 101) and (247, 103), nose tip (226, 128), mouth corners (207, 142) and
# (244, 142); the face spans roughly x 180-272, y 65-180.
ASTRONAUT_POINTS = np.array([[202, 101], [247, 103], [226, 128], [207, 142], [244, 142]], float)


def test_astronaut_face_box(astronaut_faces):
    assert len(astronaut_faces) == 1
    assert astronaut_faces.scores[0] > 0.95
    x1, y1, x2, y2 = astronaut_faces.boxes[0]
    assert 165 <= x1 <= 195 and 255 <= x2 <= 285, (x1, x2)
    assert 45 <= y1 <= 85 and 160 <= y2 <= 195, (y1, y2)


def test_astronaut_five_points(astronaut_faces):
    points = astronaut_faces.points[0]
    np.testing.assert_allclose(points, ASTRONAUT_POINTS, atol=8.0)
    left_eye, right_eye, nose, mouth_left, mouth_right = points
    assert left_eye[0] < nose[0] < right_eye[0] and mouth_left[0] < mouth_right[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])
    x1, y1, x2, y2 = astronaut_faces.boxes[0]
    assert ((points >= [x1, y1]) & (points <= [x2, y2])).all()


def test_detection_is_deterministic_and_grey_works(detector, astronaut_faces):
    again = detector.detect(data.astronaut())
    np.testing.assert_array_equal(again.boxes, astronaut_faces.boxes)
    grey = data.astronaut().mean(axis=2).round().astype(np.uint8)[..., None]
    found = detector.detect(grey)
    assert len(found) >= 1
    np.testing.assert_allclose(found.points[0], ASTRONAUT_POINTS, atol=10.0)


def test_detector_pickles_without_compiled_functions(detector):
    clone = pickle.loads(pickle.dumps(detector))
    assert clone.config == detector.config
    flat = np.full((40, 40, 3), 90, np.uint8)
    assert len(clone.detect(flat)) == len(detector.detect(flat)) == 0


def test_no_face_in_flat_image(detector):
    assert len(detector.detect(np.full((120, 160, 3), 90, np.uint8))) == 0


def test_missing_wheel_gives_install_hint(monkeypatch):
    monkeypatch.setattr(mtcnn.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match=r"ferjax\[detect\]"):
        mtcnn.mtcnn_weights_dir()
