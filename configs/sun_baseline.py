"""Sun et al. 2018: the baseline CNN (Table 2; 360,720 weights with 7 classes).

Run:        python launch.py --config=configs/sun_baseline.py
Paper CV:   python launch.py --config=configs/sun_baseline.py:cv,classes=7
Smoke run:  python launch.py --config=configs/sun_baseline.py:runlocal
Arguments as configs/sun_attention.py (variant and beta do not apply). The baseline flattens the
9×7×128 map, so it needs the 144×112 input (config.data.crop_size).
"""

from ferjax.configs import sun


def get_config(arg=None):
    return sun.get_config("sun_baseline", arg)
