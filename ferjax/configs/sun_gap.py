"""Sun et al. 2018: the CNN with global average pooling (a fixed uniform weight map, Sec. 4.3).

Run:        python launch.py --config=configs/sun_gap.py
Smoke run:  python launch.py --config=configs/sun_gap.py:runlocal
Real data (README "Real datasets"; FER-2013 from fer2013.csv, 7 classes, PrivateTest):
  python launch.py --config=configs/sun_gap.py:data=fer2013 --config.data.manual_dir=<folder with fer2013.csv>
Arguments as configs/sun_attention.py (variant and beta do not apply).
"""

from ferjax.configs import sun


def get_config(arg=None):
    return sun.get_config("sun_gap", arg)
