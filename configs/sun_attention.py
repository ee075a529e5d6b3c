"""Sun et al. 2018: the CNN with visual attention (Table 3), free weight map (Eq. 4) with β.

Run (the default experiment, FERSynth `front`, 8 classes):
  python launch.py --config=configs/sun_attention.py
Symmetric weight map (Eq. 5), other batch size and workdir:
  python launch.py --config=configs/sun_attention.py:variant=symmetric \
      --config.train.batch_size=64 --workdir=runs/x
Paper protocol, 5-fold subject-independent CV:  ...sun_attention.py:cv
Smoke run (seconds):                             ...sun_attention.py:runlocal
Real data (README "Real datasets"; FER-2013 from fer2013.csv, 7 classes, PrivateTest):
  python launch.py --config=configs/sun_attention.py:data=fer2013 --config.data.manual_dir=<folder with fer2013.csv>
RaFD-FRONT, the paper's 5 subject folds:  ...sun_attention.py:data=rafd,data_config=front \
      --config.data.manual_dir=<folder with the Rafd*.jpg files>
Arguments (comma-separated): data=front|pose|wild|<real builder>, classes=0|8|7 (0: the
dataset's own label space, 7 classes without contempt), variant=free|symmetric, beta=1.0,
bn=True|False (BatchNorm, not in the paper: bn=False is the paper's exact network), steps=300,
batch=32, cv, runlocal.

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
