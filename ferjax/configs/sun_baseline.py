"""Sun et al. 2018: the baseline CNN (Table 2; 360,720 weights with 7 classes).

Run:        python launch.py --config=configs/sun_baseline.py
Paper CV:   python launch.py --config=configs/sun_baseline.py:cv,classes=7
Smoke run:  python launch.py --config=configs/sun_baseline.py:runlocal
Real data (README "Real datasets"; FER-2013 from fer2013.csv, 7 classes, PrivateTest):
  python launch.py --config=configs/sun_baseline.py:data=fer2013 --config.data.manual_dir=<folder with fer2013.csv>
Arguments as configs/sun_attention.py (variant and beta do not apply). The baseline flattens the
9×7×128 map, so it needs the 144×112 input (config.data.crop_size).
"""

from ferjax.configs import sun
from ferjax.sweep import spec


def get_config(arg=None):
    return sun.get_config("sun_baseline", arg)


def get_sweep(arg=None):
    """Sun et al. Table 5's four CNNs (baseline, GAP, attention Eq. 4 and Eq. 5) × 3 seeds, with
    this file's arguments for all of them, e.g. the paper protocol on RaFD-FRONT:
    python -m ferjax.sweep --config=configs/sun_baseline.py:data=rafd,data_config=front,cv,classes=7
    python -m ferjax.collect runs/<sweep> --paper=sun"""
    return spec.product(spec.axis("config", ["configs/sun_baseline.py", "configs/sun_gap.py",
                                             "configs/sun_attention.py:variant=free",
                                             "configs/sun_attention.py:variant=symmetric"]),
                        spec.seeds(3))
