"""Sun et al. 2018: the CNN with visual attention (Table 3), free weight map (Eq. 4) with β.

Run (the default experiment, FERSynth `front`, 8 classes):
  python launch.py --config=configs/sun_attention.py
Symmetric weight map (Eq. 5), other batch size and workdir:
  python launch.py --config=configs/sun_attention.py:variant=symmetric \
      --config.train.batch_size=64 --workdir=runs/x
Paper protocol, 5-fold subject-independent CV:  ...sun_attention.py:cv
Fig. 7 (§4.6), the weight map of a group photo suppressed by soft face boxes:
  ...sun_attention.py:group  (a synthetic FERSynth group; real photos, faces found by MTCNN:
  --config.evals.group_attention.images_dir=<folder of .png/.jpg group photos>)
Smoke run (seconds):                             ...sun_attention.py:runlocal
Real data (README "Real datasets"), e.g. FER-2013 (fer2013.csv; 7 classes, the dataset's own;
48×48 faces at their own size, 10 epochs of 64, cosine, EMA, flip TTA, the best PublicTest
epoch reported on PrivateTest):
  python launch.py --config=configs/sun_attention.py:data=fer2013 \
      --config.data.manual_dir=<folder holding fer2013.csv>
RaFD-FRONT, the paper's 5 subject folds:  ...sun_attention.py:data=rafd,data_config=front \
      --config.data.manual_dir=<folder with the Rafd*.jpg files>
Arguments (comma-separated): data=front|pose|wild|<real builder>, classes=0|8|7 (0: the
dataset's own label space, 7 classes without contempt), variant=free|symmetric, beta=1.0,
bn=True|False (BatchNorm, not in the paper: bn=False is the paper's exact network), steps=0
(300 on FERSynth; > 0 overrides epochs), epochs=0 (real data: the dataset's budget,
configs/pieces.py REAL_EPOCHS), batch=0 (32 on FERSynth, 64 on real data), cv, group
(the group_attention evaluator, Fig. 7), runlocal.

Real-data budgets: configs/pieces.py REAL_EPOCHS (FER-2013 10 epochs: 4,486 steps of 64 at
48×48; face-detected datasets train at the paper's 144×112 crops). Measured wall times and
accuracies: docs/performance.md ("Measured on real data": FER-2013 62.69 % PrivateTest in
37 min on 2 cores; "Sun et al. 2018" for step throughput).

Expected on a 2-core CPU: see docs/performance.md and the README results table (runtime and
accuracy are measured there, not promised here).
"""

from ferjax.configs import pieces, sun
from ferjax.sweep import spec


def get_config(arg=None):
    return sun.get_config("sun_attention", arg)


def get_sweep(arg=None):
    """Both weight maps (Eq. 4 free, Eq. 5 symmetric) × 3 seeds (2 with `runlocal`):
    python -m ferjax.sweep --config=configs/sun_attention.py:data=wild --parallel=2"""
    runlocal = pieces.parse_arg(arg, sun.DEFAULTS).runlocal
    return spec.product(spec.axis(":variant", ["free", "symmetric"]),
                        spec.seeds(2 if runlocal else 3))
