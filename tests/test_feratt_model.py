"""FERAtt and PreActResNet18: parameter counts, output contract, variants, gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ferjax.losses import total_loss
from ferjax.models import build_model
from ferjax.models.feratt import average_pool_to
from ferjax.models.preact_resnet import PreActResNet

TINY = {"name": "feratt", "encoder_widths": (4, 8, 8, 8), "encoder_blocks": (1, 1, 1, 1),
        "decoder_filters": 2, "rec_width": 4, "rep_width": 4, "num_resblocks": 1,
        "embedding_dim": 5, "classifier_size": 16}
DATA = {"num_classes": 3, "image_shape": (64, 64, 3)}


def _param_count(module, shape):
    variables = jax.eval_shape(lambda: module.init(jax.random.key(0), jnp.zeros(shape)))
    return sum(x.size for x in jax.tree.leaves(variables["params"]))


def test_preact_resnet18_has_the_cifar_reference_parameter_count():
    assert _param_count(PreActResNet(num_classes=10), (1, 32, 32, 3)) == 11_171_146


@pytest.mark.parametrize("stride, c_in", [(1, 4), (2, 3), (1, 3)])
def test_preact_block_by_hand(stride, c_in):
    from ferjax.models.preact_resnet import PreActBlock
    block = PreActBlock(features=4, stride=stride)
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(2, 8, 8, c_in)), jnp.float32)
    variables = block.init(jax.random.key(0), x, train=False)
    stats = jax.tree.map(lambda v: jnp.asarray(rng.uniform(0.5, 1.5, v.shape), jnp.float32),
                         variables["batch_stats"])
    params = {k: ({"scale": jnp.asarray(rng.uniform(0.5, 1.5, v["scale"].shape), jnp.float32),
                   "bias": jnp.asarray(rng.normal(size=v["bias"].shape), jnp.float32)}
                  if k.startswith("bn") else v) for k, v in variables["params"].items()}
    projects = stride == 2 or c_in != 4          # shape changes: a 1×1 projection shortcut
    expected_names = {"bn1", "conv1", "bn2", "conv2"} | ({"shortcut"} if projects else set())
    assert set(params) == expected_names and set(stats) == {"bn1", "bn2"}

    def bn(y, name):
        return ((y - stats[name]["mean"]) / jnp.sqrt(stats[name]["var"] + 1e-5)
                * params[name]["scale"] + params[name]["bias"])

    def conv(y, name, s, pad):
        return jax.lax.conv_general_dilated(y, params[name]["kernel"], (s, s), pad,
                                            dimension_numbers=("NHWC", "HWIO", "NHWC"))

    pre = jax.nn.relu(bn(x, "bn1"))
    # The projection reads the pre-activated input (He et al. 2016b); identity reads x itself.
    shortcut = conv(pre, "shortcut", stride, "VALID") if projects else x
    out = conv(jax.nn.relu(bn(conv(pre, "conv1", stride, ((1, 1), (1, 1))), "bn2")), "conv2", 1,
               ((1, 1), (1, 1)))
    applied = block.apply({"params": params, "batch_stats": stats}, x, train=False)
    np.testing.assert_allclose(applied, out + shortcut, rtol=1e-4, atol=1e-5)


def test_attention_feature_and_reconstruction_modules_name_their_layers():
    import flax
    model = build_model(dict(TINY, variant="feratt_rep_cls"), DATA)
    params = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 64, 64, 3)))["params"]
    paths = {"/".join(k[:3]) for k in flax.traverse_util.flatten_dict(params)}
    # G_att: ResNet encoder (one block per stage in TINY), U-Net centre and decoders, head.
    decoder = {f"g_att/{d}/{c}" for d in ("center", "dec5", "dec4", "dec3", "dec2", "dec1")
               for c in ("conv1", "conv2")}
    encoder = {f"g_att/encoder/{n}" for n in ("bn1", "conv1", "layer1_0", "layer2_0",
                                                "layer3_0", "layer4_0")}
    head = {f"g_att/{h}/{p}" for h in ("head_conv", "head_out") for p in ("kernel", "bias")}
    assert {p for p in paths if p.startswith("g_att/")} == decoder | encoder | head
    # G_ft with one residual block; G_rec's two convolutions and BatchNorm.
    assert {p.rsplit("/", 1)[0] for p in paths if p.startswith("g_ft/")} == {
        "g_ft/conv_input", "g_ft/conv_mid", "g_ft/res0_conv1", "g_ft/res0_conv2"}
    assert {p.rsplit("/", 1)[0] for p in paths if p.startswith("g_rec/")} == {
        "g_rec/bn", "g_rec/conv1", "g_rec/conv2"}


def test_training_mode_reaches_the_attention_encoder_statistics():
    model = build_model(dict(TINY, variant="feratt_rep_cls"), DATA)
    images = jax.random.uniform(jax.random.key(1), (2, 64, 64, 3))
    variables = model.init(jax.random.key(0), images)
    _, updates = model.apply(variables, images, train=True, mutable=["batch_stats"])
    old = variables["batch_stats"]["g_att"]["encoder"]["bn1"]["mean"]
    assert not np.allclose(updates["batch_stats"]["g_att"]["encoder"]["bn1"]["mean"], old)


def test_code_normalize_layer_keeps_the_input_dtype():
    from ferjax.models.feratt import code_normalize_layer
    x = jnp.full((1, 2, 2, 3), 0.5, jnp.bfloat16)
    assert code_normalize_layer(x).dtype == jnp.bfloat16
    assert code_normalize_layer(x.astype(jnp.float32)).dtype == jnp.float32


def test_preact_resnet_layer_names_training_statistics_and_a_one_wide_embedding():
    import flax
    model = PreActResNet(num_classes=3, stage_sizes=(1, 1), width=4, embedding_dim=1)
    x = jax.random.normal(jax.random.key(0), (2, 8, 8, 3))
    variables = model.init(jax.random.key(1), x)
    names = {"/".join(k[:2]) for k in flax.traverse_util.flatten_dict(variables["params"])}
    assert names == {"conv1/kernel", "layer1_0/bn1", "layer1_0/conv1", "layer1_0/bn2",
                     "layer1_0/conv2", "layer2_0/bn1", "layer2_0/conv1", "layer2_0/bn2",
                     "layer2_0/conv2", "layer2_0/shortcut", "embedding/kernel",
                     "embedding/bias", "classifier/kernel", "classifier/bias"}
    out, state = model.apply(variables, x, train=True, capture_intermediates=True,
                             mutable=["batch_stats", "intermediates"])
    assert out["embedding"].shape == (2, 1)
    # Each later stage's first block halves the map: 8×8 → 4×4 in layer2_0.
    assert state["intermediates"]["layer1_0"]["__call__"][0].shape == (2, 8, 8, 4)
    assert state["intermediates"]["layer2_0"]["__call__"][0].shape == (2, 4, 4, 8)
    # Training mode reaches the blocks: the first BatchNorm's running mean moves by 0.1 of the
    # batch mean of the stem's output (momentum 0.9, as the reference's PyTorch 0.1).
    stem = state["intermediates"]["conv1"]["__call__"][0]
    np.testing.assert_allclose(state["batch_stats"]["layer1_0"]["bn1"]["mean"],
                               0.1 * jnp.mean(stem, axis=(0, 1, 2)), rtol=1e-4, atol=1e-6)


def test_full_feratt_size_is_near_the_reference():
    model = build_model({"name": "feratt", "variant": "feratt_rep_cls", "num_resblocks": 8,
                         "embedding_dim": 32}, {"num_classes": 8, "image_shape": (64, 64, 3)})
    assert 45e6 < _param_count(model, (1, 64, 64, 3)) < 47e6


# The authors' normalize_layer written out: scale std/0.5 and shift (mean − 0.5)/0.5 per channel.
CODE_SCALE = np.array([0.4046, 0.3988, 0.4020])
CODE_SHIFT = np.array([-0.0172, -0.0356, -0.1070])


@pytest.fixture(scope="module")
def tiny_runs():
    images = jax.random.uniform(jax.random.key(1), (2, 64, 64, 3))
    runs = {}
    for variant in ("baseline", "feratt_rep_cls"):
        model = build_model(dict(TINY, variant=variant), DATA)
        # One compiled init that also returns the (inference-mode) outputs.
        outputs, variables = jax.jit(model.init_with_output)(jax.random.key(0), images)
        runs[variant] = (model, variables, outputs)
    return images, runs


def test_feratt_outputs_follow_the_contract(tiny_runs):
    images, runs = tiny_runs
    _, _, out = runs["feratt_rep_cls"]
    assert out["logits"].shape == (2, 3)
    assert out["embedding"].shape == (2, 5)
    assert out["attention_image"].shape == (2, 64, 64, 3)
    assert out["attention_image_small"].shape == (2, 16, 16, 3)
    assert out["attention"].shape == (2, 64, 64)
    assert float(out["attention_image"].min()) >= 0.0  # G_rec ends with a ReLU
    assert 0.0 <= float(out["attention"].min()) and float(out["attention"].max()) <= 1.0
    # G_rep sees I_att through the code's fixed affine (0.2023/0.5, (0.4914 − 0.5)/0.5, ...).
    np.testing.assert_allclose(out["attention_image_small"][0, 0, 0],
                               out["attention_image"][0, :4, :4].mean(axis=(0, 1)) * CODE_SCALE
                               + CODE_SHIFT, rtol=1e-5, atol=1e-6)
    cls_model = build_model(dict(TINY, variant="feratt_cls"), DATA)
    cls = jax.eval_shape(lambda x: cls_model.init_with_output(jax.random.key(0), x)[0], images)
    assert cls["embedding"].shape == (2, 4 * 8)  # plain head: pooled features
    assert cls["attention_image"].shape == (2, 64, 64, 3)


def test_baseline_is_the_classifier_on_the_pooled_image(tiny_runs):
    images, runs = tiny_runs
    model, variables, out = runs["baseline"]
    assert set(out) == {"logits", "embedding", "features"}
    assert set(variables["params"]) == {"g_rep"}
    direct = PreActResNet(num_classes=3, width=4).apply(
        {"params": variables["params"]["g_rep"], "batch_stats": variables["batch_stats"]["g_rep"]},
        average_pool_to(images, 16))
    np.testing.assert_allclose(out["logits"], direct["logits"], rtol=1e-5, atol=1e-6)


def test_one_training_gradient_reaches_every_module(tiny_runs):
    images, runs = tiny_runs
    model, variables, _ = runs["feratt_rep_cls"]
    batch = {"image": images, "label": jnp.asarray([0, 2]), "weight": jnp.ones(2),
             "face": images * (images > 0.5)}
    terms = {"emotion_ce": {}, "attention_reconstruction": {}, "gaussian_manifold": {}}

    def loss_fn(params):
        out, _ = model.apply({"params": params, "batch_stats": variables["batch_stats"]},
                             images, train=True, mutable=["batch_stats"])
        return total_loss(out, batch, terms)[0]

    grads = jax.jit(jax.grad(loss_fn))(variables["params"])
    for module in ("g_att", "g_ft", "g_rec", "g_rep"):
        norm = sum(float(jnp.sum(g ** 2)) for g in jax.tree.leaves(grads[module]))
        assert np.isfinite(norm) and norm > 0, module


def test_factory_rejects_bad_configs():
    with pytest.raises(ValueError, match="variant"):
        build_model(dict(TINY, variant="feratt_plus"), DATA)
    with pytest.raises(ValueError, match="divisible by 64"):
        build_model(dict(TINY, variant="feratt_cls"), {"num_classes": 3, "image_shape": (48, 48, 3)})
    with pytest.raises(ValueError, match="classifier_size"):
        build_model(dict(TINY, classifier_size=24), DATA)
    with pytest.raises(ValueError, match="square images; data image_shape is 64×48"):
        build_model(TINY, {"num_classes": 3, "image_shape": (64, 48, 3)})
    # The baseline has no attention module, so 48 (a multiple of classifier_size) is enough.
    baseline = build_model(dict(TINY, variant="baseline"),
                           {"num_classes": 3, "image_shape": (48, 48, 3)})
    assert baseline.variant == "baseline"


def test_fusion_and_reconstruction_wiring_by_hand(tiny_runs):
    from ferjax.models.feratt import AttentionModule, FeatureModule
    images, runs = tiny_runs
    model, variables, _ = runs["feratt_rep_cls"]
    params, stats = variables["params"], dict(variables["batch_stats"])
    # Non-trivial G_rec BN statistics and affine, so BN's place and parameters matter.
    stats["g_rec"] = {"bn": {"mean": jnp.array([0.1, -0.2, 0.05]),
                             "var": jnp.array([0.5, 2.0, 1.5])}}
    params = dict(params, g_rec=dict(params["g_rec"], bn={"scale": jnp.array([1.5, -0.7, 0.9]),
                                                          "bias": jnp.array([0.2, 0.3, -0.1])}))
    out = model.apply({"params": params, "batch_stats": stats}, images)

    part = lambda name: {"params": params[name], **({"batch_stats": stats[name]}
                                                    if name in stats else {})}
    g_att = AttentionModule(3, (4, 8, 8, 8), (1, 1, 1, 1), 2).apply(part("g_att"), images, False)
    g_ft = FeatureModule(3, 1).apply(part("g_ft"), images)
    x = jnp.concatenate([jax.nn.sigmoid(g_att) * g_ft, images, g_att], -1)

    def conv(x, p, padding):
        y = jax.lax.conv_general_dilated(x, p["kernel"], (1, 1), padding,
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return y + p["bias"]

    rec = params["g_rec"]
    x = conv(jnp.maximum(conv(x, rec["conv1"], "SAME"), 0.0), rec["conv2"], "VALID")
    bn = stats["g_rec"]["bn"]
    x = (x - bn["mean"]) / jnp.sqrt(bn["var"] + 1e-5) * rec["bn"]["scale"] + rec["bn"]["bias"]
    i_att = jnp.maximum(x, 0.0)
    np.testing.assert_allclose(out["attention_image"], i_att, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["attention"], jax.nn.sigmoid(g_att).mean(-1), rtol=1e-5)
    small = i_att.reshape(2, 16, 4, 16, 4, 3).mean(axis=(2, 4)) * CODE_SCALE + CODE_SHIFT
    head = PreActResNet(num_classes=3, width=4, embedding_dim=5).apply(
        {"params": params["g_rep"], "batch_stats": stats["g_rep"]}, small)
    np.testing.assert_allclose(out["logits"], head["logits"], rtol=1e-4, atol=1e-5)


def test_code_normalize_layer_by_hand():
    from ferjax.models.feratt import code_normalize_layer
    pixel = jnp.array([[[[1.0, 0.0, 0.5]]]])
    np.testing.assert_allclose(code_normalize_layer(pixel)[0, 0, 0],
                               [0.4046 - 0.0172, -0.0356, 0.2010 - 0.1070], rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="3 channels"):
        code_normalize_layer(jnp.zeros((1, 2, 2, 1)))


def test_rec_output_affine_switch_feeds_the_plain_i_att(tiny_runs):
    images, runs = tiny_runs
    model, variables, with_affine = runs["feratt_rep_cls"]
    plain = model.clone(rec_output_affine=False).apply(variables, images)
    np.testing.assert_allclose(plain["attention_image"], with_affine["attention_image"],
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(plain["attention_image_small"][1, 2, 3],
                               plain["attention_image"][1, 8:12, 12:16].mean(axis=(0, 1)),
                               rtol=1e-5)
    assert not np.allclose(plain["logits"], with_affine["logits"])
