"""ResNet34 weight conversion and loading on a tiny synthetic torchvision-style state dict."""

import importlib.util
import pathlib
import re
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ferjax.models.feratt import ResNetEncoder
from ferjax.models.resnet34_weights import load_resnet34_encoder

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "scripts" / "convert_resnet34.py"
BLOCKS = (1, 1, 1, 1)
WIDTHS = (4, 8, 8, 8)


def _script():
    spec = importlib.util.spec_from_file_location("convert_resnet34", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tiny_state(in_channels=3, seed=0):
    """torchvision key names and (O, I, kh, kw) layouts for a ResNet with WIDTHS / BLOCKS."""
    rng = np.random.default_rng(seed)
    state = {"conv1.weight": rng.normal(size=(4, in_channels, 7, 7)),
             "fc.weight": rng.normal(size=(10, 8)), "bn1.num_batches_tracked": np.array(3)}
    for f in ("weight", "bias", "running_mean", "running_var"):
        state[f"bn1.{f}"] = rng.uniform(0.5, 1.5, 4)
    in_width = 4
    for stage, width in enumerate(WIDTHS, start=1):
        p = f"layer{stage}.0"
        state[f"{p}.conv1.weight"] = rng.normal(size=(width, in_width, 3, 3))
        state[f"{p}.conv2.weight"] = rng.normal(size=(width, width, 3, 3))
        for bn in ("bn1", "bn2"):
            for f in ("weight", "bias", "running_mean", "running_var"):
                state[f"{p}.{bn}.{f}"] = rng.uniform(0.5, 1.5, width)
        if stage > 1:
            state[f"{p}.downsample.0.weight"] = rng.normal(size=(width, in_width, 1, 1))
            for f in ("weight", "bias", "running_mean", "running_var"):
                state[f"{p}.downsample.1.{f}"] = rng.uniform(0.5, 1.5, width)
        in_width = width
    return {k: np.asarray(v, np.float32) if k != "bn1.num_batches_tracked" else v
            for k, v in state.items()}


def _init(channels=3):
    encoder = ResNetEncoder(WIDTHS, BLOCKS)
    return encoder, encoder.init(jax.random.key(0), jnp.zeros((1, 32, 32, channels)), train=False)


def test_converter_keeps_the_encoder_and_checks_names(tmp_path):
    script = _script()
    state = _tiny_state()
    kept = script.convert(state, blocks=BLOCKS)
    assert "fc.weight" not in kept and "bn1.num_batches_tracked" not in kept
    assert set(script.required_keys(BLOCKS)) == set(kept)
    with pytest.raises(ValueError, match="lacks 1"):
        script.convert({k: v for k, v in state.items() if k != "layer3.0.bn2.bias"}, BLOCKS)
    with pytest.raises(ValueError, match="not a torchvision ResNet key"):
        script.convert(dict(state, **{"head.weight": np.zeros(2)}), BLOCKS)
    # The full ResNet34 layout: 3+4+6+3 blocks, 3 downsamples.
    assert len(script.required_keys()) == 5 + 16 * 10 + 3 * 5


def test_converter_cli_rejects_an_incomplete_resnet34(tmp_path):
    source = tmp_path / "tiny.npz"
    np.savez(source, **_tiny_state())
    run = subprocess.run([sys.executable, str(SCRIPT), str(source), str(tmp_path / "out.npz")],
                         capture_output=True, text=True)
    assert run.returncode != 0 and "layer1.1.conv1.weight" in run.stderr


def test_loaded_weights_land_where_torchvision_had_them(tmp_path):
    state = _script().convert(_tiny_state(), blocks=BLOCKS)
    path = tmp_path / "weights.npz"
    np.savez(path, **state)
    encoder, variables = _init()
    loaded = load_resnet34_encoder({"params": {"g_att": {"encoder": variables["params"]}},
                                    "batch_stats": {"g_att": {"encoder": variables["batch_stats"]}}},
                                   path)
    params = loaded["params"]["g_att"]["encoder"]
    stats = loaded["batch_stats"]["g_att"]["encoder"]
    np.testing.assert_array_equal(params["conv1"]["kernel"],
                                  state["conv1.weight"].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(params["layer3_0"]["downsample_conv"]["kernel"][0, 0],
                                  state["layer3.0.downsample.0.weight"][:, :, 0, 0].T)
    np.testing.assert_array_equal(params["layer2_0"]["bn2"]["scale"], state["layer2.0.bn2.weight"])
    np.testing.assert_array_equal(stats["layer4_0"]["downsample_bn"]["var"],
                                  state["layer4.0.downsample.1.running_var"])
    # The loaded tree runs.
    out = encoder.apply({"params": params, "batch_stats": stats}, jnp.ones((1, 32, 32, 3)), train=False)
    assert all(np.all(np.isfinite(o)) for o in out)


def test_grey_models_get_the_rgb_sum_and_bad_files_are_named(tmp_path):
    state = _script().convert(_tiny_state(), blocks=BLOCKS)
    _, variables = _init(channels=1)
    wrapped = {"params": {"g_att": {"encoder": variables["params"]}},
               "batch_stats": {"g_att": {"encoder": variables["batch_stats"]}}}
    loaded = load_resnet34_encoder(wrapped, state)
    np.testing.assert_allclose(loaded["params"]["g_att"]["encoder"]["conv1"]["kernel"][..., 0, :],
                               state["conv1.weight"].sum(axis=1).transpose(1, 2, 0), rtol=1e-6)
    with pytest.raises(ValueError, match="lack"):
        load_resnet34_encoder(wrapped, {k: v for k, v in state.items() if "layer4" not in k})
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        load_resnet34_encoder(wrapped, tmp_path / "missing.npz")


def test_config_hook_loads_only_when_asked(tmp_path):
    from ferjax.models.resnet34_weights import load_pretrained_from_config
    state = _script().convert(_tiny_state(), blocks=BLOCKS)
    np.savez(tmp_path / "w.npz", **state)
    _, variables = _init()
    wrapped = {"params": {"g_att": {"encoder": variables["params"]}},
               "batch_stats": {"g_att": {"encoder": variables["batch_stats"]}}}
    assert load_pretrained_from_config(wrapped, {"resnet34_weights": ""}) is wrapped
    assert load_pretrained_from_config(wrapped, {}) is wrapped
    assert load_pretrained_from_config(wrapped, {"variant": "baseline",
                                                 "resnet34_weights": "x.npz"}) is wrapped
    loaded = load_pretrained_from_config(wrapped, {"resnet34_weights": str(tmp_path / "w.npz")})
    np.testing.assert_array_equal(loaded["params"]["g_att"]["encoder"]["bn1"]["bias"],
                                  state["bn1.bias"])


def _wrapped(channels=3):
    _, variables = _init(channels)
    return {"params": {"g_att": {"encoder": variables["params"]}},
            "batch_stats": {"g_att": {"encoder": variables["batch_stats"]}}}


def test_classifier_and_batch_counters_are_skipped_and_unknown_keys_named():
    state = _tiny_state()   # torchvision's own dict: fc.* and num_batches_tracked included
    state["layer1.0.bn2.num_batches_tracked"] = np.array(3)
    state["layer2.0.downsample.1.num_batches_tracked"] = np.array(3)
    loaded = load_resnet34_encoder(_wrapped(), state)
    np.testing.assert_array_equal(loaded["params"]["g_att"]["encoder"]["bn1"]["bias"],
                                  state["bn1.bias"])
    for unknown in ("avgpool.0.conv1.weight", "head.weight"):
        with pytest.raises(ValueError, match=f"unexpected key '{unknown}'"):
            load_resnet34_encoder(_wrapped(), {**state, unknown: np.ones((4, 4, 3, 3))})


def test_pytorch_files_load_safely_when_torch_is_importable(tmp_path, monkeypatch):
    import types

    from ferjax.models.resnet34_weights import read_state_dict
    state = _tiny_state()
    for suffix in (".pth", ".pt"):
        path = tmp_path / f"resnet34{suffix}"
        path.write_bytes(b"not read by the fake")
        monkeypatch.setitem(sys.modules, "torch", None)   # import torch raises ImportError
        with pytest.raises(ImportError, match=rf"resnet34\{suffix} is a PyTorch file.*"
                                              r"scripts/convert_resnet34\.py"):
            read_state_dict(path)
        calls = []

        def load(*args, **kwargs):
            calls.append((args, kwargs))
            return {k: types.SimpleNamespace(numpy=lambda v=v: v) for k, v in state.items()}

        monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(load=load))
        read = read_state_dict(path)
        # weights_only=True: a state_dict is tensors only, so nothing in the file can run code.
        assert calls == [((path,), {"map_location": "cpu", "weights_only": True})]
        assert set(read) == set(state)
        np.testing.assert_array_equal(read["conv1.weight"], state["conv1.weight"])
    other = tmp_path / "resnet34.bin"
    other.write_bytes(b"")
    with pytest.raises(ValueError, match=r"resnet34\.bin: expected \.npz, \.pth or \.pt"):
        read_state_dict(other)


def test_loaded_leaves_are_float32_and_misfits_are_named():
    state = _tiny_state()
    loaded = load_resnet34_encoder(_wrapped(), {k: v.astype(np.float64) if v.ndim else v
                                                for k, v in state.items()})
    leaves = jax.tree.leaves(loaded["params"]["g_att"]["encoder"])
    assert {np.asarray(x).dtype for x in leaves} == {np.dtype(np.float32)}
    # layer4 missing: 9 params and 6 statistics, the first three named in order.
    with pytest.raises(ValueError, match=re.escape(
            "ResNet34 weights lack 15 encoder entries, e.g. ['g_att/encoder/layer4_0/bn1/bias', "
            "'g_att/encoder/layer4_0/bn1/mean', 'g_att/encoder/layer4_0/bn1/scale']")):
        load_resnet34_encoder(_wrapped(), {k: v for k, v in state.items() if "layer4" not in k})
    # A second block in layer1 has no place in a one-block-per-stage encoder.
    with pytest.raises(ValueError, match=re.escape(
            "ResNet34 weight layer1.1.conv1.weight has no place in the encoder "
            "(g_att/encoder/layer1_1/conv1/kernel)")):
        load_resnet34_encoder(_wrapped(), {**state, "layer1.1.conv1.weight": np.ones((4, 4, 3, 3))})
    # A kernel of the wrong width names the key and both shapes.
    with pytest.raises(ValueError, match=re.escape(
            "ResNet34 weight layer2.0.conv2.weight: shape (3, 3, 8, 5) (converted) does not fit "
            "the encoder's (3, 3, 8, 8)")):
        load_resnet34_encoder(_wrapped(), {**state, "layer2.0.conv2.weight": np.ones((5, 8, 3, 3))})


def test_encoder_stem_is_torchvision_conv1_padding_3():
    encoder, variables = _init()
    x = jax.random.normal(jax.random.key(2), (1, 32, 32, 3))
    _, state = encoder.apply(variables, x, train=False, capture_intermediates=True,
                             mutable=["intermediates"])
    stem = state["intermediates"]["conv1"]["__call__"][0]
    expected = jax.lax.conv_general_dilated(x, variables["params"]["conv1"]["kernel"], (2, 2),
                                            ((3, 3), (3, 3)),
                                            dimension_numbers=("NHWC", "HWIO", "NHWC"))
    np.testing.assert_allclose(stem, expected, rtol=1e-5, atol=1e-5)
