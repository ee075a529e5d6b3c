"""Jalal et al. 2019: convolutional self-attention network with class-balanced sampling.

Run (the default experiment: FERSynth `wild` rendered at 112×112, RGB 96×96 random crops,
8 classes, a short CPU schedule):
  python launch.py --config=configs/jalal_self_attention.py
Without the self-attention block (the paper's CNN ablation):
  python launch.py --config=configs/jalal_self_attention.py:attention=False
Class-imbalanced FERSynth (AffectNet's class frequencies), then balanced as the paper:
  python launch.py --config=configs/jalal_self_attention.py:imbalanced
  python launch.py --config=configs/jalal_self_attention.py:imbalanced,balance
The paper's experiment (AffectNet 8 classes, its validation set as test; Adam 1e-4, batch 500,
700 epochs, dropout 0.85, 13,000 images per class with whole-image replication as its counts
show, 224×224 RGB), e.g. on an accelerator:
  python launch.py --config=configs/jalal_self_attention.py:paper \
      --config.data.manual_dir=/path/to/AffectNet
Smoke run (seconds):  ...jalal_self_attention.py:runlocal
Other real data (README "Real datasets"), e.g. FER-2013 from fer2013.csv:
  python launch.py --config=configs/jalal_self_attention.py:data=fer2013 \
      --config.data.manual_dir=<folder with fer2013.csv>
Arguments (comma-separated): data=wild|front|pose|<real builder>, classes=0|8|7 (0: the dataset's),
attention=True|False, gamma=random|zero, dropout=0.15 (paper: 0.85), imbalanced, balance,
target=<count>|mean|median|max|min, replicate=fill|whole, steps=0 (400 on FERSynth; > 0
overrides epochs), epochs=0 (real data: the dataset's budget), batch, lr, crop, paper, runlocal.
Real data trains epochs (configs/pieces.py REAL_EPOCHS: FER-2013 10, RAF-DB 20, AffectNet 1,
lab datasets 50) at the paper's 224×224 crops of 256-pixel faces, or, for pre-cropped small
faces (FER-2013), at their own 48×48, e.g.
  python launch.py --config=configs/jalal_self_attention.py:data=fer2013,classes=7 \
      --config.data.manual_dir=<folder holding fer2013.csv>
Runtime on the 2-core CPU, extrapolated from timed steps (docs/decisions.md, "Jalal et al.
2019": 1.8 img/s at 224×224×3, 39 img/s at 64×64×1): FER-2013's 10 epochs at 48×48 (about
the 64×64 rate or better) ≈ 2 h; a 1,000-face lab fold's 50 epochs at 224 ≈ 8 h, an
accelerator's job.

Expected on a 2-core CPU: the README results table and docs/decisions.md ("Jalal et al. 2019")
give the measured runtime and accuracy; nothing is promised here.
"""

from ferjax.configs import pieces
from ferjax.sweep import spec

DEFAULTS = {
    "data": "wild",         # FERSynth front | pose | wild, or a real builder (affectnet, ...)
    "classes": 0,           # 0: the dataset's (AffectNet: 8, the paper's); 8; or 7 (no contempt)
    "attention": True,      # False: the CNN without the self-attention block
    "gamma": "random",      # a1's γ initialisation: random (paper) | zero (SAGAN)
    "dropout": 0.15,        # d1's drop probability; `paper`: 0.85 (its "dropout rate"), which
                            # keeps the short wild run at chance (docs/decisions.md)
    "imbalanced": False,    # subsample the training set to AffectNet's class frequencies
    "balance": False,       # Jalal's class balancing: down-sample large, replicate small
    "target": "mean",       # examples per class when balancing (paper: 13000)
    "replicate": "fill",    # fill (exactly target) | whole (the paper's whole-copy counts)
    "steps": 0,             # 0: 400 on FERSynth; real data trains `epochs` instead
    "epochs": 0.0,          # real data; 0: the dataset's budget (configs/pieces.py REAL_EPOCHS)
    "batch": 16,
    "lr": 1e-3,             # short CPU schedule; the paper's Adam rate 1e-4 comes with `paper`
    "crop": 96,             # FERSynth model input side (random crops of crop·7/6 renders;
                            # centre crop at test);
                            # real datasets: 224 crops of 256 images, as the paper
    "paper": False,         # the paper's AffectNet experiment (overrides the above)
    "runlocal": False,      # seconds-long smoke run
}


def get_config(arg=None):
    a = pieces.parse_arg(arg, DEFAULTS)
    if a.paper:
        a.update({"data": "affectnet", "balance": True, "target": "13000",
                  "replicate": "whole", "batch": 500,
                  "crop": 224, "lr": 1e-4, "dropout": 0.85})
    if a.gamma not in ("random", "zero"):
        raise ValueError(f"config argument gamma={a.gamma!r}; expected random or zero")
    if a.classes not in (0, 7, 8):
        raise ValueError(f"config argument classes={a.classes}; expected 0 (the dataset's), 7 "
                         "or 8")
    c = pieces.base()
    c.model = pieces.model("jalal_self_attention", use_attention=a.attention,
                           gamma_init=a.gamma, dropout_rate=a.dropout)
    if a.data in ("front", "pose", "wild"):
        # Square faces (a derived FERSynth config, built once) so that square crops keep the
        # whole face: a 96×96 crop of the 160×125 default frame would cut it.
        side = a.crop * 7 // 6
        c.data = pieces.fersynth_data(a.data, image_size=(side, side))
        c.data.channels = 3 if a.data == "wild" else 1
        c.data.crop_size = (a.crop, a.crop)
    elif a.data == "affectnet":
        # Faces resized to 256 RGB so the paper's random 224×224 crops (and flips) apply; the
        # protocol uses AffectNet's validation set as the test set, as the paper.
        c.data, c.protocol = pieces.real_data("affectnet", f"csv{a.classes or 8}", image_size=256,
                                              grey=False, crop_size=(224, 224))
    elif pieces.small_faces(a.data):
        # Pre-cropped small faces (FER-2013's 48×48) at their own size, whole; a 4-pixel
        # translation in the step instead of the paper's crops of 256-pixel images.
        size = pieces.native_size(a.data)
        c.data, c.protocol = pieces.real_data(a.data, image_size=size, grey=False)
        c.data.batch_augment.translate = 4
    else:
        c.data, c.protocol = pieces.real_data(a.data, image_size=256, grey=False,
                                              crop_size=(224, 224))
    c.data.label_space = pieces.label_space(a.classes, c.data)
    c.data.class_sampling = {
        "imbalance": "affectnet" if a.imbalanced else "",
        "balance": a.balance,
        "target": a.target,
        "replicate": a.replicate,
        "crop_fraction": 0.9,
    }
    c.train.batch_size = a.batch
    c.train.optimizer.name = "adam"       # paper: β1 = 0.9 ("momentum"), no weight decay
    c.train.schedule = {"kind": "constant", "lr": a.lr}
    c.train.log_every = 25
    c.train.checkpoint_every = 200
    real = a.data not in ("front", "pose", "wild")
    c.train.num_steps = a.steps if real else (a.steps or 400)
    c.train.num_epochs = a.epochs or (pieces.real_epochs(a.data) if real else 10.0)
    if a.paper:
        c.train.num_steps = 0
        c.train.num_epochs = 700.0
        c.train.log_every = 100
        c.train.checkpoint_every = 2000
        c.eval.batch_size = 500
    if a.attention:  # the block's mean map over queries, and its rows at face landmarks
        c.evals.attention = {"type": "attention", "max_examples": 2000}
        c.evals.self_attention_queries = {"type": "self_attention_queries", "count": 4}
    if a.runlocal:
        pieces.apply_runlocal(c, steps=4, checkpoint_every=2)
        c.data.crop_size = (32, 32)
    return c


def get_sweep(arg=None):
    """Table I's network with and without its self-attention block × 3 seeds:
    python -m ferjax.sweep --config=configs/jalal_self_attention.py --parallel=2
    python -m ferjax.collect runs/<sweep> --paper=jalal"""
    return spec.product(spec.axis(":attention", [True, False]), spec.seeds(3))
