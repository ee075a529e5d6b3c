"""EmotionalDAN (Tautkutė & Trzcinski): multi-stage DAN with an emotion head, trained stage-wise.

Run (default: FERSynth `wild`, 7 classes, 2 stages, a CPU-sized network and short schedule):
  python launch.py --config=configs/emotional_dan.py
3 classes (surprise dropped), one stage, the authors' code's 0.5/0.5 loss weights:
  python launch.py --config=configs/emotional_dan.py:classes=3,stages=1,loss=code
Emotion-only baseline (no landmark term in any stage):   ...emotional_dan.py:loss=emotion
The paper's experiment (AffectNet, 224×224, full Table 1 widths, batch 50, 40 epochs/stage):
  python launch.py --config=configs/emotional_dan.py:data=affectnet,paper
Smoke run (seconds):                                     ...emotional_dan.py:runlocal
Other real data (README "Real datasets"), e.g. FER-2013 from fer2013.csv:
  python launch.py --config=configs/emotional_dan.py:data=fer2013 --config.data.manual_dir=<folder with fer2013.csv>
Arguments (comma-separated): data=wild|front|pose|<real builder>, classes=7|3|8, stages=2,
loss=joint|code|emotion, steps=0 (per phase: 300 on FERSynth; > 0 overrides epochs),
epochs=0 (per phase, real data: the dataset's budget, configs/pieces.py REAL_EPOCHS: 50 for
the lab datasets, 1 for AffectNet; `paper`: 40), fine_tune=0 (steps of a last all-stage phase),
batch=32, size=0 (square input side; 0 = FERSynth's 144×112 centre crop, or 224 for real
data), width=8 (base channels; Table 1 = 64), fc=64 (fc1 units; Table 1 = 256),
stage_opt=sgd_clr|adam (optimiser of stages ≥ 2), stop1=0 (> 0: stage 1 trains until the
landmark NME on a held-out 15 % of the training subjects has not improved for stop1
evaluations, one per epoch, at most `steps` steps, as the paper; the next stage starts from the
best stage-1 checkpoint; the dataset needs subject ids), paper, cross (after training, test on the
datasets of config.evals.cross_dataset: workdir/cross_dataset.md in the paper's Table 2/3
layout; the test builders must store images at least `size` pixels wide), runlocal.

Phases (ferjax/runs/stagewise.py), each in workdir/<phase>: stage_1 on the landmark NME with
Adam 1e-3; stage_t (t ≥ 2) with earlier stages frozen on α·NME + β·CE (α = 0.4, β = 0.6) with
SGD and the triangular cyclical LR 1e-4..0.05 (half cycle 10k steps in the paper, half a phase
here); workdir/stagewise.json collects the phases' results, and the final model's evaluators
write workdir/landmarks.json (NME per stage, CED), workdir/gradcam.json (Table 5) and, with
`cross`, workdir/cross_dataset.{json,md}.
Expected on a 2-core CPU: see docs/performance.md (measured there, not promised here). Real
data at 224×224 with the CPU widths: a stage-2 step ran at 29 img/s at 112×112
(docs/performance.md), so about 7 img/s at 224: 50 epochs of a 1,000-face CK+ training fold
≈ 2 h per phase; with `paper` widths it is an accelerator's job. The cyclical rate's half
cycle is the code's 10k steps when phases train epochs.
"""

from ferjax.configs import pieces
from ferjax.sweep import spec

DEFAULTS = {
    "data": "wild",
    "classes": 7,
    "stages": 2,
    "loss": "joint",        # joint (paper 0.4/0.6) | code (0.5/0.5) | emotion (CE only)
    "steps": 0,             # steps per phase; 0: 300 on FERSynth, real data trains `epochs`
    "epochs": 0.0,          # per phase, real data; 0: the dataset's (configs/pieces.py)
    "fine_tune": 0,         # steps of an extra phase that trains all stages together
    "batch": 32,
    "size": 0,              # square model input side; 0: FERSynth 144×112 crops, real data 224
    "width": 8,
    "fc": 64,
    "paper": False,
    "cross": False,         # cross-dataset test after training (paper Tables 2, 3)
    "stage_opt": "sgd_clr",  # stages ≥ 2: sgd_clr (the code) | adam (constant 1e-3)
    "stop1": 0,             # > 0: stage 1 stops after this many validation NMEs without gain
    "runlocal": False,
}
# Cross-dataset test sets (paper Tables 2, 3): trained on AffectNet, tested on every labelled
# image of CK+, JAFFE and ISED; on FERSynth the other regimes' test splits play that part.
CROSS_DATASET = {"affectnet": {"CK+": "ckplus", "JAFFE": "jaffe", "ISED": "ised"},
                 "fersynth": {f"FERSynth {v}": v for v in ("front", "pose", "wild")}}
LABEL_SPACES = {3: "three", 7: "seven", 8: "canonical8"}
FERSYNTH_VARIANTS = ("front", "pose", "wild")
FERSYNTH_CROP = (144, 112)  # fits the 160×125 FERSynth frames; multiples of 16 (four pools)


def _test_set(train_data: str, target: str, size: int) -> dict:
    """config.data overrides that make `target` the (whole) evaluation set."""
    if train_data == "fersynth":
        return {"name": "fersynth", "config": target, "eval_split": "test",
                "train_split": "train", "fold": -1}
    data, protocol = pieces.real_data(target, image_size=size)
    split = data.cv_split if protocol == "kfold" else data.eval_split
    return {"name": target, "config": data.config, "builder_kwargs": data.builder_kwargs.to_dict(),
            "train_split": split, "eval_split": split, "fold": -1}


def _losses(kind: str) -> dict:
    if kind == "joint":
        return {"landmark_nme": {"weight": 0.4}, "emotion_ce": {"weight": 0.6}}
    if kind == "code":
        return {"landmark_nme": {"weight": 0.5}, "emotion_ce": {"weight": 0.5}}
    if kind == "emotion":
        return {"emotion_ce": {"weight": 1.0}}
    raise ValueError(f"config argument loss={kind!r}; expected joint, code or emotion")


def get_config(arg=None):
    a = pieces.parse_arg(arg, DEFAULTS)
    if a.classes not in LABEL_SPACES:
        raise ValueError(f"config argument classes={a.classes}; expected 3, 7 or 8")
    if a.stages < 1:
        raise ValueError(f"config argument stages={a.stages}; expected at least 1")
    real = a.data not in FERSYNTH_VARIANTS
    if a.paper:
        a.update({"size": 224, "width": 64, "fc": 256, "batch": 50, "steps": 0, "epochs": 40.0})
    elif not real:
        a.steps = a.steps or 300
    if a.size % 16 or a.size < 0:
        raise ValueError(f"config argument size={a.size}; must be 0 (dataset default) or a "
                         f"multiple of 16")
    c = pieces.base()
    c.protocol = "stagewise"
    c.model = pieces.model("emotional_dan", num_stages=a.stages, base_channels=a.width,
                           fc_units=a.fc, active_stages=a.stages)
    c.losses = _losses(a.loss)

    if a.data in FERSYNTH_VARIANTS:
        c.data = pieces.fersynth_data(a.data)  # centre-cropped, see crop_size below
        c.data.crop_size = (a.size, a.size) if a.size else FERSYNTH_CROP
    else:
        c.data, protocol = pieces.real_data(a.data, image_size=a.size or 224)
        if protocol == "kfold":
            c.data.fold = 0  # one held-out fold: stage-wise training is a single holdout run
    c.data.label_space = LABEL_SPACES[a.classes]
    c.data.channels = 1  # Table 1: 224×224×1, grey images
    c.data.extra_keys = ("landmarks",)
    # The authors' augmentation: brightness ±0.3, contrast 0.2–1.8, no flips or crops, on the
    # z-scored image; the pipeline applies it to training batches only.
    c.data.augment = {"random_crop": False, "flip": False, "brightness": 0.3,
                      "contrast": (0.2, 1.8), "photometric_space": "standardised"}
    # The code z-scores each pixel with a mean and a std image of the training set.
    c.data.normalisation = "per_pixel"

    c.train.batch_size = a.batch
    # Phases with steps ≤ 0 train num_epochs epochs each (ferjax/runs/stagewise.py).
    c.train.num_epochs = a.epochs or (pieces.real_epochs(a.data) if real else 40.0)
    c.train.log_every = 50
    c.train.checkpoint_every = 200
    c.train.trainable = ""
    c.train.init_from = ""
    if a.stage_opt == "sgd_clr":
        c.train.optimizer = {"name": "sgd", "momentum": 0.0, "grad_clip_norm": 0.0}
        half_cycle = 10_000 if a.steps <= 0 else max(1, a.steps // 2)
        c.train.schedule = {"kind": "triangular", "low": 1e-4, "high": 0.05,
                            "half_cycle": half_cycle}
    elif a.stage_opt == "adam":
        # Plain SGD moves pixel-unit landmark deltas by lr·∂NME/∂ΔS ~ lr/(68·d) per step, far too
        # little in a few hundred steps; Adam's per-parameter scaling does not care.
        c.train.optimizer = {"name": "adam", "b1": 0.9, "b2": 0.999, "eps": 1e-8,
                             "grad_clip_norm": 0.0}
        c.train.schedule = {"kind": "constant", "lr": 1e-3}
    else:
        raise ValueError(f"config argument stage_opt={a.stage_opt!r}; expected sgd_clr or adam")
    first_losses = {"emotion_ce": {"weight": 1.0}} if a.loss == "emotion" else {
        "landmark_nme": {"weight": 1.0}}
    c.stagewise = {
        "first_stage_steps": a.steps,
        "stage_steps": a.steps,
        "fine_tune_steps": a.fine_tune,
        # Evaluators run in every phase's directory; the others run on the final model only.
        "phase_evals": ("classification", "figures"),
        "first_stage": {"losses": first_losses,
                        "optimizer": {"name": "adam", "b1": 0.9, "b2": 0.999, "eps": 1e-8,
                                      "grad_clip_norm": 0.0},
                        "schedule": {"kind": "constant", "lr": 1e-3}},
    }
    if a.stop1 < 0:
        raise ValueError(f"config argument stop1={a.stop1}; expected 0 (fixed steps) or a "
                         "patience in evaluations")
    if a.stop1:
        # The paper trains stage 1 "until validation error stops improving".
        metric = "loss/emotion_ce" if a.loss == "emotion" else "loss/landmark_nme"
        c.stagewise.first_stage.select = {"metric": metric, "mode": "min", "patience": a.stop1}
        c.stagewise.first_stage.validation_fraction = 0.15
        c.stagewise.first_stage.eval_every = 0  # every epoch
    c.evals.landmarks = {"type": "landmarks", "max_examples": 512}
    c.evals.gradcam = {"type": "gradcam", "layers": ("conv4a", "conv4b"),
                       "frontal_epsilon": 0.05, "window": 3, "max_examples": 512}
    if a.cross:
        sets = {column: _test_set(c.data.name, target, a.size or 224)
                for column, target in CROSS_DATASET.get(c.data.name, {}).items()}
        # ConfigDict sorts its keys; "columns" keeps the paper's column order.
        c.evals.cross_dataset = {"type": "cross_dataset", "columns": tuple(sets), "sets": sets}
    if a.runlocal:
        c.stagewise.first_stage_steps = c.stagewise.stage_steps = 3
        if a.stage_opt == "sgd_clr":
            c.train.schedule.half_cycle = 2
        c.train.batch_size = 8
        c.train.log_every = 1
        c.train.checkpoint_every = 3
        c.eval.batch_size = 16
        c.data.stats_examples = 64
        c.evals.landmarks.max_examples = c.evals.gradcam.max_examples = 32
    return c


def get_sweep(arg=None):
    """Tables 2 (7 classes) and 3 (3 classes) × 3 seeds; with `cross` each run is also tested on
    the other datasets, e.g. python -m ferjax.sweep --config=configs/emotional_dan.py:cross
    then python -m ferjax.collect runs/<sweep> --paper=emotional_dan (Table 5 from the runs'
    Grad-CAM reports)"""
    return spec.product(spec.axis(":classes", [7, 3]), spec.seeds(3))
