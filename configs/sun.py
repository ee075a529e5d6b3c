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
    "steps": 300,
    "batch": 32,
    "cv": False,            # 5-fold subject-independent cross-validation (the paper's protocol)
    "runlocal": False,      # seconds-long smoke run
}


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
    if a.data in ("front", "pose", "wild"):
        c.data = pieces.fersynth_data(a.data)
    else:
        c.data, c.protocol = pieces.real_data(a.data, a.data_config,
                                              **real_preprocessing(a.data_config))
    if a.classes not in (0, 7, 8):
        raise ValueError(f"config argument classes={a.classes}; expected 0 (the dataset's), 7 "
                         "or 8")
    c.data.label_space = pieces.label_space(a.classes, c.data)
    c.train.batch_size = a.batch
    c.train.num_steps = a.steps
    c.train.log_every = 50
    c.train.checkpoint_every = 200
    c.train.optimizer.name = "adam"
    c.train.schedule = {"kind": "constant", "lr": 1e-3}
    if a.cv:
        c.protocol = "kfold"
    if model_name in ("sun_attention", "sun_gap"):  # Fig. 5: where the weight map looks
        # bottom="product_of_means" draws Fig. 5's third row as the paper does (docs/decisions.md)
        c.evals.attention = {"type": "attention", "bottom": "product", "max_examples": 2000}
    if a.runlocal:
        pieces.apply_runlocal(c, steps=6)
    return c
