"""Shared construction of the three Sun et al. 2018 experiments (imported by the config files).

BatchNorm: the paper's networks have none (Tables 2-3; `bn=False` builds them exactly). With
it off, the attention and GAP networks sit at chance for the first hundred-odd steps of Adam on
FERSynth — the paper trained for thousands of epochs — which a minutes-long CPU run cannot
afford, so the short default runs switch it on (docs/decisions.md).
"""

from __future__ import annotations

from ferjax.configs import pieces

DEFAULTS = {
    "data": "front",        # FERSynth front | pose | wild, or a real builder: rafd, sfew, ...
    "data_config": "",     # builder config of a real dataset (e.g. rafd: front | pose)
    "classes": 0,           # 0: the dataset's (7 without contempt, else 8); 8; or 7 (the paper's)
    "variant": "free",      # attention only: free (Eq. 4) | symmetric (Eq. 5)
    "beta": 1.0,
    "bn": True,             # BatchNorm after each convolution (not in the paper; see docstring)
    "steps": 0,             # 0: 300 on FERSynth; real data trains `epochs` instead
    "epochs": 0.0,          # real data; 0: the dataset's budget (pieces.real_epochs)
    "batch": 0,             # 0: 32 on FERSynth, 64 on real data
    "cv": False,            # 5-fold subject-independent cross-validation (the paper's protocol)
    "group": False,         # attention only: Fig. 7, the group_attention evaluator (§4.6)
    "runlocal": False,      # seconds-long smoke run
}


# Real-data budgets: pieces.real_epochs (FER-2013: 10 epochs of 64, 4,486 steps; the same
# model, 7 classes, cosine, 2,600 steps of 64 reached 59.2 % PrivateTest and was still
# improving, and a PyTorch twin 60.3 % after 20 epochs).


def real_setup(name: str, data_config: str) -> dict:
    """pieces.real_data keyword arguments of a real builder for the Sun networks.

    Pre-cropped small faces (FER-2013) keep their native size and the whole face (no crop),
    trimmed to a multiple of 16 for the four poolings; every other dataset gets the paper's
    preprocessing (real_preprocessing).
    """
    if not pieces.small_faces(name, data_config):
        return real_preprocessing(data_config)
    size = pieces.native_size(name, data_config)
    h, w = (size, size) if isinstance(size, int) else size
    return {"image_size": size, "crop_size": (h // 16 * 16, w // 16 * 16), "crop": "none",
            "illumination": "none"}


def real_preprocessing(data_config: str) -> dict:
    """The paper's preprocessing and sizes of a real builder config (§4.1), as real_data kwargs.

    RaFD-POSE (`pose*`): a fixed crop (the centre square, resized to 284×284), illumination
    normalised, 272×272 random crops. Everything else (RaFD-FRONT, SFEW, ...): the face detected
    and aligned (MTCNN and a 5-point similarity alignment, standing in for the paper's HOG
    detector, regression-tree landmarks and 3-D alignment; its frontalisation is not
    reproduced), illumination normalised, 125×160 (W×H) images and 112×144 random crops.
    `--config.data.builder_kwargs.<field>=...` overrides any of them.
    """
    if data_config.startswith("pose"):
        return {"image_size": 284, "crop_size": (272, 272), "crop": "none",
                "illumination": "isotropic"}
    return {"image_size": (160, 125), "crop_size": (144, 112), "crop": "detect",
            "illumination": "isotropic"}


def get_config(model_name: str, arg: str | None):
    a = pieces.parse_arg(arg, DEFAULTS)
    c = pieces.base()
    c.model = pieces.model(model_name, batch_norm=a.bn)
    if model_name == "sun_attention":
        if a.variant not in ("free", "symmetric"):
            raise ValueError(f"config argument variant={a.variant!r}; expected free or symmetric")
        c.model.update({"beta": a.beta, "symmetric": a.variant == "symmetric"})
    real = a.data not in ("front", "pose", "wild")
    if not real:
        c.data = pieces.fersynth_data(a.data)
    else:
        c.data, c.protocol = pieces.real_data(a.data, a.data_config,
                                              **real_setup(a.data, a.data_config))
        if pieces.small_faces(a.data, a.data_config):
            # Whole faces: a 4-pixel reflect-pad translation in the step stands in for the
            # paper's random-crop jitter (13 of 125 pixels).
            c.data.batch_augment.translate = 4
    if a.classes not in (0, 7, 8):
        raise ValueError(f"config argument classes={a.classes}; expected 0 (the dataset's), 7 "
                         "or 8")
    c.data.label_space = pieces.label_space(a.classes, c.data)
    c.train.log_every = 50
    c.train.checkpoint_every = 200
    c.train.optimizer.name = "adam"
    if real:
        # Epochs of the dataset, cosine decay, an EMA of the weights and flip test-time
        # augmentation (as the PyTorch twin's 60.3 %): docs/decisions.md "Real-data budgets".
        c.train.batch_size = a.batch or 64
        c.train.num_steps = a.steps
        c.train.num_epochs = a.epochs or pieces.real_epochs(a.data)
        c.train.schedule = {"kind": "cosine", "lr": 1e-3, "warmup_steps": 0}
        c.train.ema_decay = 0.999
        c.eval.tta = "flip"
    else:
        c.train.batch_size = a.batch or 32
        c.train.num_steps = a.steps or 300
        c.train.schedule = {"kind": "constant", "lr": 1e-3}
    if a.cv:
        c.protocol = "kfold"
    if model_name in ("sun_attention", "sun_gap"):  # Fig. 5: where the weight map looks
        # bottom="product_of_means" draws Fig. 5's third row as the paper does (docs/decisions.md)
        c.evals.attention = {"type": "attention", "bottom": "product", "max_examples": 2000}
    if a.group:
        if model_name != "sun_attention":
            raise ValueError(f"config argument group needs sun_attention's weight map, not "
                             f"{model_name}")
        # Fig. 7 on a synthetic FERSynth group (composition boxes); real group photos:
        # --config.evals.group_attention.images_dir=<folder> (MTCNN boxes). Off by default: a
        # few seconds of compiling and detecting on the CPU (docs/decisions.md, Sun).
        c.evals.group_attention = {"type": "group_attention", "images_dir": "",
                                   "form": "feathered", "feather": 0.1}
    if a.runlocal:
        pieces.apply_runlocal(c, steps=6)
    return c
