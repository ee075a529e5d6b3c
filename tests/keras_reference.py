"""Test helpers for Keras HDF5 files: write a mini-Xception file as Keras 2.0.5 saves one, and
run any such file's graph in plain NumPy (an implementation independent of Flax and of the
converter: it reads model_config and the raw Keras arrays itself)."""

from __future__ import annotations

import json

import numpy as np

# ---- writing ---------------------------------------------------------------------------------


class _Names:
    """Keras's per-class layer counters (conv2d_1, batch_normalization_3, ...)."""

    def __init__(self):
        self.counts: dict[str, int] = {}

    def __call__(self, prefix: str) -> str:
        self.counts[prefix] = self.counts.get(prefix, 0) + 1
        return f"{prefix}_{self.counts[prefix]}"


def _layer(class_name, name, inbound, **config):
    nodes = [[[n, 0, 0, {}] for n in inbound]] if inbound else []
    return {"class_name": class_name, "name": name, "config": {"name": name, **config},
            "inbound_nodes": nodes}


def mini_xception_file_layout(stem=(8, 8), blocks=(16, 32, 64, 128), classes=7, side=64,
                              seed=0):
    """(model_config dict, {layer: {weight: array}}) of a mini-Xception in Keras 2.0.5's
    naming: layers numbered in creation order (a block's shortcut before its separable
    convolutions, as Arriaga et al.'s code builds it), listed in the saved file's order."""
    rng = np.random.default_rng(seed)
    # Kernels at std 1/sqrt(fan-in), so that activations stay O(1) through the whole depth and
    # a float32 forward can be held to an absolute tolerance.
    kernel = lambda *shape: rng.normal(0, 1 / np.sqrt(np.prod(shape[:-1])), shape)
    name = _Names()
    layers, weights = [], {}
    conv = dict(strides=[1, 1], data_format="channels_last", dilation_rate=[1, 1],
                activation="linear")

    def bn(source, channels):
        n = name("batch_normalization")
        layers.append(_layer("BatchNormalization", n, [source], axis=-1, momentum=0.99,
                             epsilon=0.001, center=True, scale=True))
        weights[n] = {"gamma": rng.uniform(0.5, 1.5, channels), "beta": rng.normal(0, 0.1, channels),
                      "moving_mean": rng.normal(0, 0.1, channels),
                      "moving_variance": rng.uniform(0.5, 1.5, channels)}
        return n

    def relu(source):
        n = name("activation")
        layers.append(_layer("Activation", n, [source], activation="relu"))
        return n

    layers.append(_layer("InputLayer", "input_1", [], batch_input_shape=[None, side, side, 1]))
    x, channels = "input_1", 1
    for features in stem:
        n = name("conv2d")
        layers.append(_layer("Conv2D", n, [x], filters=features, kernel_size=[3, 3],
                             padding="valid", use_bias=False, **conv))
        weights[n] = {"kernel": kernel(3, 3, channels, features)}
        x, channels = relu(bn(n, features)), features
    for features in blocks:
        # Creation order: shortcut conv and BN first (their numbers), listed after the main path.
        res_conv, res_bn_name = name("conv2d"), name("batch_normalization")
        mains, inputs = [], x
        for _ in range(2):
            s = name("separable_conv2d")
            layers.append(_layer("SeparableConv2D", s, [inputs], filters=features,
                                 kernel_size=[3, 3], padding="same", use_bias=False,
                                 depth_multiplier=1, **conv))
            weights[s] = {"depthwise_kernel": kernel(3, 3, channels if not mains else features, 1),
                          "pointwise_kernel": kernel(1, 1, channels if not mains else features, features)}
            b = bn(s, features)
            mains.append(b)
            inputs = relu(b) if len(mains) == 1 else b
        layers.append(_layer("Conv2D", res_conv, [x], filters=features, kernel_size=[1, 1],
                             padding="same", use_bias=False, **{**conv, "strides": [2, 2]}))
        weights[res_conv] = {"kernel": kernel(1, 1, channels, features)}
        pool = name("max_pooling2d")
        layers.append(_layer("MaxPooling2D", pool, [mains[-1]], pool_size=[3, 3], strides=[2, 2],
                             padding="same", data_format="channels_last"))
        layers.append(_layer("BatchNormalization", res_bn_name, [res_conv], axis=-1,
                             momentum=0.99, epsilon=0.001, center=True, scale=True))
        weights[res_bn_name] = {"gamma": rng.uniform(0.5, 1.5, features),
                                "beta": rng.normal(0, 0.1, features),
                                "moving_mean": rng.normal(0, 0.1, features),
                                "moving_variance": rng.uniform(0.5, 1.5, features)}
        x = name("add")
        layers.append(_layer("Add", x, [pool, res_bn_name]))
        channels = features
    head = name("conv2d")
    layers.append(_layer("Conv2D", head, [x], filters=classes, kernel_size=[3, 3], padding="same",
                         use_bias=True, **conv))
    weights[head] = {"kernel": kernel(3, 3, channels, classes),
                     "bias": rng.normal(0, 0.1, classes)}
    layers.append(_layer("GlobalAveragePooling2D", "global_average_pooling2d_1", [head],
                         data_format="channels_last"))
    layers.append(_layer("Activation", "predictions", ["global_average_pooling2d_1"],
                         activation="softmax"))
    config = {"class_name": "Model", "config": {"name": "model_1", "layers": layers,
                                                 "input_layers": [["input_1", 0, 0]],
                                                 "output_layers": [["predictions", 0, 0]]}}
    return config, {k: {w: np.asarray(a, np.float32) for w, a in v.items()}
                    for k, v in weights.items()}


def write_keras_h5(path, config, weights, *, drop_layer: str = "") -> None:
    """An HDF5 file as Keras 2's model.save writes it: attrs model_config (JSON) and
    model_weights/<layer>/<layer>_1/<weight>:0 with weight_names; `drop_layer` left out."""
    import h5py

    names = [layer["name"] for layer in config["config"]["layers"]]
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(config).encode()
        f.attrs["keras_version"] = b"2.0.5"
        f.attrs["backend"] = b"tensorflow"
        root = f.create_group("model_weights")
        root.attrs["layer_names"] = np.array([n.encode() for n in names if n != drop_layer])
        for n in names:
            if n == drop_layer:
                continue
            group = root.create_group(n)
            stored = weights.get(n, {})
            keys = [f"{n}_1/{w}:0" for w in stored]
            group.attrs["weight_names"] = np.array([k.encode() for k in keys])
            for key, w in zip(keys, stored):
                group.create_dataset(key, data=stored[w])


# ---- NumPy forward ---------------------------------------------------------------------------


def _pad_amounts(size: int, kernel: int, stride: int, padding: str) -> tuple[int, int, int]:
    """(out, before, after) as TensorFlow computes them."""
    if padding == "valid":
        return (size - kernel) // stride + 1, 0, 0
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return out, total // 2, total - total // 2


def _windows(x, kernel, stride, padding, fill=0.0):
    """Yields (i, j, strided slice) for every kernel offset of an NHWC input."""
    _, h, w, _ = x.shape
    oh, top, bottom = _pad_amounts(h, kernel[0], stride[0], padding)
    ow, left, right = _pad_amounts(w, kernel[1], stride[1], padding)
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=fill)
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            yield i, j, xp[:, i:i + stride[0] * oh:stride[0], j:j + stride[1] * ow:stride[1]]


def conv2d(x, kernel, stride, padding):
    """x (B, H, W, C), kernel (kh, kw, C, O): a sum over kernel offsets of patch · weights."""
    out = 0.0
    for i, j, patch in _windows(x, kernel.shape[:2], stride, padding):
        out = out + np.einsum("bhwc,co->bhwo", patch, kernel[i, j])
    return out


def depthwise2d(x, kernel, stride, padding):
    """kernel (kh, kw, C, M): output channel c·M + m filters input channel c alone."""
    out = 0.0
    for i, j, patch in _windows(x, kernel.shape[:2], stride, padding):
        out = out + patch[..., :, None] * kernel[i, j][None, None, None]
    b, h, w, c, m = out.shape
    return out.reshape(b, h, w, c * m)


def max_pool(x, size, stride, padding):
    out = None
    for _, _, patch in _windows(x, size, stride, padding, fill=-np.inf):
        out = patch if out is None else np.maximum(out, patch)
    return out


def keras_forward(config, weights, images, *, upto: str = "") -> np.ndarray:
    """Runs the Keras graph of `config` on images (B, H, W, C) float64 with the raw Keras
    arrays; returns the output of layer `upto` (default: the pre-softmax scores, i.e. the global
    average pool)."""
    values = {}
    last = None
    for layer in config["config"]["layers"]:
        kind, cfg, name = layer["class_name"], layer["config"], layer["name"]
        ins = [values[n[0]] for n in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
        w = weights.get(name, {})
        if kind == "InputLayer":
            y = np.asarray(images, np.float64)
        elif kind == "Conv2D":
            y = conv2d(ins[0], w["kernel"].astype(np.float64), cfg["strides"], cfg["padding"])
            if cfg["use_bias"]:
                y = y + w["bias"]
        elif kind == "SeparableConv2D":
            y = depthwise2d(ins[0], w["depthwise_kernel"].astype(np.float64), cfg["strides"],
                            cfg["padding"])
            y = conv2d(y, w["pointwise_kernel"].astype(np.float64), [1, 1], "valid")
        elif kind == "BatchNormalization":
            y = (ins[0] - w["moving_mean"]) / np.sqrt(w["moving_variance"] + cfg["epsilon"]) \
                * w["gamma"] + w["beta"]
        elif kind == "Activation":
            if cfg["activation"] == "relu":
                y = np.maximum(ins[0], 0.0)
            else:  # softmax: the scores before it are what the tests compare
                y = ins[0]
        elif kind == "MaxPooling2D":
            y = max_pool(ins[0], cfg["pool_size"], cfg["strides"], cfg["padding"])
        elif kind == "Add":
            y = sum(ins)
        elif kind == "GlobalAveragePooling2D":
            y = ins[0].mean(axis=(1, 2))
        else:
            raise ValueError(f"no NumPy forward for {kind}")
        values[name] = y
        last = name
        if name == upto:
            break
    return values[upto or last]


def read_keras_h5(path):
    """(model_config dict, {layer: {weight: array}}) read back from an HDF5 file."""
    import h5py

    with h5py.File(path, "r") as f:
        config = json.loads(f.attrs["model_config"])
        weights = {}
        for layer in f["model_weights"]:
            group = f["model_weights"][layer]
            weights[layer] = {k.decode().split("/")[-1].split(":")[0]: np.asarray(group[k.decode()])
                              for k in group.attrs["weight_names"]}
    return config, weights
