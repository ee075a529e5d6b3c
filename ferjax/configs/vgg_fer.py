"""VGG-style FER network with modern training: the strong baseline for FER-2013-like data.

Run (FERSynth `front` rendered at FER-2013's 48×48, its 8 classes, the `cpu` budget):
  python launch.py --config=configs/vgg_fer.py
FER-2013 (Kaggle fer2013.csv; test = PrivateTest), CPU budget (2 cores; its time and accuracy
in docs/performance.md) or GPU
budget (full width, 60 epochs, bf16, data resident on the device, flip TTA):
  python launch.py --config=configs/vgg_fer.py:data=fer2013,cpu \
      --config.data.manual_dir=<folder holding fer2013.csv>
  python launch.py --config=configs/vgg_fer.py:data=fer2013,gpu \
      --config.data.manual_dir=<folder holding fer2013.csv>
Any other builder works the same way (data=rafdb, data=ckplus, ...: its native image size, grey;
fold datasets are cross-validated over their subject folds). Smoke run: ...vgg_fer.py:runlocal
Arguments (comma-separated): data=front|pose|wild|<real builder>, data_config=<builder config>,
classes=0|7|8 (0: the dataset's own; FER-2013 7), cpu, gpu, epochs=0 (0: the budget's),
width=0.0 (width multiplier; 0: the
budget's), runlocal.

Method, each choice with its source (docs/decisions.md, "VGG-style FER baseline"):
- Network (ferjax/models/vgg.py): Khaireddin & Chen 2021 (73.28 % on FER-2013 PrivateTest,
  the best single network without extra data): 4 stages of 2× (3×3 conv, BatchNorm, ReLU),
  2×2 max-pool, widths 64–512; global average pooling, dropout 0.3, one dense layer.
- SGD with Nesterov momentum 0.9 (Khaireddin & Chen's best optimiser), weight decay 5e-4 (the
  probe), one-cycle learning rate (Smith & Topin 2019) peaking at 0.1 for batch 256,
  scaled linearly with the batch (Goyal et al. 2017).
- Label smoothing 0.1 (Szegedy et al. 2016; Müller et al. 2019).
- Augmentation: horizontal flips and reflect-pad-4 random translation (the 48×48 analogue of
  CIFAR training, as the probe); the gpu budget adds rotations up to ±10° (Khaireddin & Chen)
  and random erasing p = 0.25 (Zhong et al. 2020) against over-fitting a full-width network for
  60 epochs; the small cpu network under-fits in its short budget and gets neither. Mixup is
  available (--config.data.batch_augment.mixup=0.2), off.
- EMA of the weights, decay 0.999 (Polyak averaging; timm's ModelEmaV2); evaluation uses it.
- Native resolution: 48×48 for FER-2013, no upscaling; the whole face is kept (no crop).
Budgets (FER-2013: 28,709 training and 3,589 test images):
- cpu: width ×0.5 (32–256 channels, 1,174,439 parameters with 7 classes), batch 128, 16
  epochs (3,589 steps). Measured on real FER-2013 on a 2-core CPU: 67.23 % PrivateTest in
  87 min wall (docs/performance.md, "Measured on real data"); width ×0.25 steps about 3× faster
  (docs/performance.md, "VGG-style baseline").
- gpu: full width (4,689,735 parameters with 7 classes), batch 256, 60 epochs, bfloat16 compute,
  device-resident input (placement "auto": every dataset here but full AffectNet fits the
  device budget; that one streams from the host), flip TTA (the probe of this recipe, without EMA, rotation and erasing,
  reached 73.1 % in 24 s of training on one H200).
Expected: see docs/decisions.md (what we expect and why); measured: README "Measured on real
data".
"""

from ferjax.configs import pieces

DEFAULTS = {
    "data": "front",        # FERSynth front | pose | wild, or a real builder: fer2013, rafdb, ...
    "data_config": "",      # builder config of a real dataset
    "classes": 0,           # 0: the dataset's (FER-2013: 7, FERSynth: 8); 7 or 8
    "cpu": False,           # the 2-core CPU budget at FER-2013 size (docs/performance.md)
    "gpu": False,           # full width, 60 epochs, bf16, device-resident input
    "epochs": 0.0,          # 0: the budget's
    "width": 0.0,           # width multiplier; 0: the budget's
    "runlocal": False,
}

# FERSynth faces are rendered at FER-2013's size, so that the default run is its stand-in.
FERSYNTH_SIZE = (48, 48)
BUDGETS = {
    "cpu": {"width": 0.5, "batch": 128, "epochs": 16.0, "compute_dtype": "float32",
            "placement": "auto", "tta": "none",
            "batch_augment": {"translate": 4, "rotation": 0.0, "erasing": 0.0, "mixup": 0.0}},
    "gpu": {"width": 1.0, "batch": 256, "epochs": 60.0, "compute_dtype": "bfloat16",
            "placement": "auto", "tta": "flip",
            "batch_augment": {"translate": 4, "rotation": 10.0, "erasing": 0.25, "mixup": 0.0}},
}
PEAK_LR_PER_256 = 0.1


def get_config(arg=None):
    a = pieces.parse_arg(arg, DEFAULTS)
    if a.cpu and a.gpu:
        raise ValueError("config arguments cpu and gpu exclude each other; choose one budget")
    if a.classes not in (0, 7, 8):
        raise ValueError(f"config argument classes={a.classes}; expected 0 (the dataset's), 7 "
                         "or 8")
    budget = BUDGETS["gpu" if a.gpu else "cpu"]
    c = pieces.base()
    c.model = pieces.model("vgg_fer", width_multiplier=a.width or budget["width"])
    if a.data in ("front", "pose", "wild"):
        c.data = pieces.fersynth_data(a.data, image_size=FERSYNTH_SIZE)
        c.data.crop_size = FERSYNTH_SIZE
        c.data.channels = 1
    else:
        c.data, c.protocol = pieces.real_data(a.data, a.data_config,
                                              image_size=pieces.native_size(a.data, a.data_config))
    c.data.label_space = pieces.label_space(a.classes, c.data)
    # Whole faces: translation replaces cropping (the crop is the stored size).
    c.data.augment = {"random_crop": False, "flip": True, "brightness": 0.0,
                      "contrast": (1.0, 1.0), "photometric_space": "pixels"}
    c.data.batch_augment = budget["batch_augment"]
    c.data.placement = budget["placement"]
    c.losses = {"emotion_ce": {"weight": 1.0, "label_smoothing": 0.1}}

    c.train.batch_size = budget["batch"]
    c.train.num_steps = 0
    c.train.num_epochs = a.epochs or budget["epochs"]
    c.train.optimizer = {"name": "sgd", "momentum": 0.9, "nesterov": True,
                         "weight_decay": 5e-4, "grad_clip_norm": 0.0}
    c.train.schedule = {"kind": "onecycle", "lr": PEAK_LR_PER_256 * budget["batch"] / 256,
                        "pct_start": 0.3, "div_factor": 25.0, "final_div_factor": 1e4}
    c.train.ema_decay = 0.999
    c.train.compute_dtype = budget["compute_dtype"]
    c.train.log_every = 50
    c.train.checkpoint_every = 1000
    c.eval.batch_size = 256
    c.eval.tta = budget["tta"]
    if a.runlocal:
        pieces.apply_runlocal(c, steps=4)
        c.model.width_multiplier = 0.125
        # Every in-step augmentation runs in the smoke test.
        c.data.batch_augment = {"translate": 4, "rotation": 10.0, "erasing": 0.5, "mixup": 0.2}
    return c
