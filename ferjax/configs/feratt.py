"""FERAtt (Marrero Fernandez et al. 2019): PreActResNet18 baseline, FERAtt+Cls, FERAtt+Rep+Cls.

Run (FERAtt+Rep+Cls on FERSynth `composite`, faces re-composited by the §3.4 renderer, 64×64):
  python launch.py --config=configs/feratt.py
The three methods of the paper's tables:
  python launch.py --config=configs/feratt.py:variant=baseline
  python launch.py --config=configs/feratt.py:variant=cls
  python launch.py --config=configs/feratt.py:variant=rep_cls
Paper settings (128×128 input, batch 200, 60 epochs):  ...feratt.py:paper
Leave-10-subjects-out cross-validation (the paper):    ...feratt.py:cv
Real dataset with face masks, COCO-like backgrounds:   ...feratt.py:data=ckplus,backgrounds=/path/to/images
Noise robustness, the paper's protocol (retrained on noisy training data, tested on noisy test
data; one run per σ in 0.01 0.05 0.07 0.09 0.1 0.2 0.3):  ...feratt.py:noise=0.1
Reduced widths for CPU comparisons:                     ...feratt.py:small
Smoke run (seconds):                                   ...feratt.py:runlocal
Real data (README "Real datasets"), CK+ in its original layout (10 subject folds):
  python launch.py --config=configs/feratt.py:data=ckplus --config.data.manual_dir=<CK+ folder>
Arguments (comma-separated): variant=baseline|cls|rep_cls, data=<FERSynth config or real builder
with masks>, render (default on; render=false uses the records as they are, target image ⊗ mask),
backgrounds=fersynth (FERSynth's procedural backgrounds; "" a simpler built-in generator) or an
image folder, crop=landmarks|detect (real datasets: the face crop whose landmark hull gives
the mask), size=64|128, classes=0|8|7 (0: the dataset's own, 7 without contempt),
steps=0 (400 on FERSynth; > 0 overrides epochs),
epochs=0 (real data: the dataset's budget, configs/pieces.py REAL_EPOCHS, 50 for the lab
datasets; `paper`: 60), batch=32, noise=0.0 (σ of the noisy data sets), paper, small, cv,
runlocal. Real data needs landmarks or a detector for the face masks (not FER-2013's bare
48×48 faces). Runtime of real data on the 2-core CPU, from the measured steps
(docs/performance.md: full FERAtt 4.9 img/s, `small` 92 img/s at 64×64): 50 epochs of a
1,000-face lab fold ≈ 3 h full width, 9 min `small`. ImageNet ResNet34 weights for G_att:
--config.model.resnet34_weights=/path/resnet34.npz
(convert a torchvision state_dict with scripts/convert_resnet34.py).

Defaults are a short CPU schedule with the authors' code settings where the paper is silent:
64×64 input, batch 32, Adam with AMSGrad at a constant 1e-4, unweighted loss sum. Paper
settings differ as listed in docs/decisions.md ("FERAtt"). Runtime and accuracy are measured in
the README / docs, not promised here.
"""

from ferjax.configs import pieces
from ferjax.evaluation import robustness
from ferjax.sweep import spec

DEFAULTS = {
    "variant": "rep_cls",
    "data": "composite",
    "render": True,
    "backgrounds": "fersynth",
    "size": 64,
    "classes": 0,           # 0: the dataset's (7 without contempt, else 8); 8 or 7
    "steps": 0,             # 0: 400 on FERSynth; real data trains `epochs` instead
    "epochs": 0.0,          # real data; 0: the dataset's budget (configs/pieces.py REAL_EPOCHS)
    "batch": 32,
    "paper": False,
    "small": False,
    "cv": False,
    "crop": "landmarks",
    "noise": 0.0,
    "runlocal": False,
}

# A reduced-width FERAtt for CPU comparisons (argument `small`): same modules and losses,
# about 1/4 of the widths.
SMALL_MODEL = {"encoder_widths": (16, 32, 64, 128), "encoder_blocks": (2, 2, 2, 2),
               "decoder_filters": 8, "rec_width": 16, "rep_width": 16, "num_resblocks": 2}

VARIANTS = {"baseline": "baseline", "cls": "feratt_cls", "rep_cls": "feratt_rep_cls"}


def _losses(variant: str) -> dict:
    losses = {"emotion_ce": {"weight": 1.0}}
    if variant != "baseline":
        losses["attention_reconstruction"] = {"weight": 1.0, "kind": "mse"}
    if variant == "rep_cls":
        # mixup_pairing "code": the authors' integer-label mixing (docs/decisions.md).
        losses["gaussian_manifold"] = {"weight": 1.0, "sigma": 0.5, "mixup": False,
                                       "mixup_pairing": "soft"}
    return losses


def get_config(arg=None):
    a = pieces.parse_arg(arg, DEFAULTS)
    if a.variant not in VARIANTS:
        raise ValueError(f"config argument variant={a.variant!r}; expected one of "
                         f"{sorted(VARIANTS)}")
    if a.classes not in (0, 7, 8):
        raise ValueError(f"config argument classes={a.classes}; expected 0 (the dataset's), 7 "
                         "or 8")
    if a.crop not in ("landmarks", "detect"):
        raise ValueError(f"config argument crop={a.crop!r}; FERAtt's face masks need "
                         "crop=landmarks or crop=detect")
    size = 128 if a.paper else a.size
    if size % 64:
        raise ValueError(f"config argument size={size}; FERAtt needs a multiple of 64 (64, 128)")

    c = pieces.base()
    # Module defaults are the paper's (ferjax.models.feratt lists the code's alternatives).
    c.model = pieces.model("feratt", variant=VARIANTS[a.variant],
                           resnet34_weights="")  # user-supplied .npz/.pth; empty = random init
    # The renderer scales each face to its 128-pixel render size itself; records used as they
    # are (render=false) are built at the model's input size, so nothing is cropped away.
    stored = 128 if a.render else size
    if a.data in ("front", "pose", "wild", "composite"):
        c.data = pieces.fersynth_data(a.data, **({} if a.render else
                                                 {"image_size": (stored, stored)}))
    else:
        # Face masks are the landmark hulls, so the builder needs a landmark (or detector) crop.
        c.data, c.protocol = pieces.real_data(a.data, image_size=stored, grey=True,
                                              crop=a.crop, mask=True)
    c.data.label_space = pieces.label_space(a.classes, c.data)
    c.data.noise_sigma = float(a.noise)  # > 0: §4.4's noisy training and test sets
    # The code's loader: element i is a random training example of class i mod C.
    c.data.class_sampling = {"class_cycle": True}
    c.data.channels = 3                 # grey replicated to 3 channels, as the code
    c.data.crop_size = (size, size)
    c.data.extra_keys = ("mask", "face") if a.variant != "baseline" else ()
    # The renderer already flips, rotates and shifts; the pipeline adds nothing on top.
    c.data.augment = {"random_crop": False, "flip": False, "brightness": 0.0,
                      "contrast": (1.0, 1.0)}
    c.data.composite = {
        "enabled": a.render,
        "backgrounds": a.backgrounds,
        "train_multiplier": 1,
        "eval_multiplier": 1,
        "eval_harder": True,
        "train_renders": "per_epoch",  # new composites every epoch (code); "fixed": one per index
        "face_from_mask": True,     # render=false: face target = image ⊗ mask, as stored
        "settings": {"output_size": size, "render_size": 128, "pad": 10, "channels": 3},
    }
    c.losses = _losses(a.variant)
    c.train.batch_size = a.batch
    real = a.data not in ("front", "pose", "wild", "composite")
    c.train.num_steps = a.steps if real else (a.steps or 400)
    c.train.num_epochs = a.epochs or (pieces.real_epochs(a.data) if real else 10.0)
    c.train.log_every = 20
    c.train.checkpoint_every = 100
    c.train.optimizer = {"name": "amsgrad", "grad_clip_norm": 0.0}
    c.train.schedule = {"kind": "constant", "lr": 1e-4}
    c.eval.batch_size = 64
    if a.paper:
        c.train.batch_size = 200
        c.train.num_steps = 0
        c.train.num_epochs = 60.0
    if a.small:
        c.model.update(SMALL_MODEL)
    if a.cv:  # the paper's leave-10-subjects-out (FERSynth composite's 60 subjects: 6 folds)
        c.protocol = "kfold"
        c.data.subjects_per_fold = 10
    # The paper's analyses (Tables 1-4, Fig. 6-9), per run or per fold; runs are compared with
    # python -m ferjax.evaluation.compare.
    c.evals.knn = {"type": "knn", "k": 11, "tsne": True, "max_examples": 0}
    if a.variant != "baseline":
        c.evals.attention = {"type": "attention", "max_examples": 2000}
        c.evals.attention_image = {"type": "attention_image", "max_examples": 0}
    c.evals.robustness = {"type": "robustness", "sigmas": robustness.NOISE_SIGMAS,
                          "max_examples": 0}
    if a.runlocal:
        pieces.apply_runlocal(c, steps=4, eval_batch=8, stats_examples=16, checkpoint_every=2)
        c.model.update({"rep_width": 8, "decoder_filters": 4, "rec_width": 8,
                        "num_resblocks": 1, "encoder_widths": (8, 16, 16, 16),
                        "encoder_blocks": (1, 1, 1, 1)})
        c.evals.robustness.sigmas = (0.05, 0.3)
    return c


def get_sweep(arg=None):
    """The three methods of FERAtt's Tables 1-4 × 3 seeds (with `cv`: each seed runs the
    leave-10-subjects-out folds), e.g. python -m ferjax.sweep --config=configs/feratt.py:small,cv
    then python -m ferjax.collect runs/<sweep> --paper=feratt"""
    return spec.product(spec.axis(":variant", ["baseline", "cls", "rep_cls"]), spec.seeds(3))
