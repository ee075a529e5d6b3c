"""All four methods on one protocol and the same data: the table no paper has.

FERSynth `wild` (the same subjects, the same train/validation split, 7 classes: neutral and the
six basic emotions), holdout evaluation on the validation subjects, short CPU budgets. Each
method keeps its own input size, augmentation, optimiser and losses (its config file's
defaults); only data, classes and budget are shared.

One point:   python launch.py --config=configs/cross_paper.py:method=jalal
The sweep (4 methods × 3 seeds) and its table:
  python -m ferjax.sweep --config=configs/cross_paper.py --workdir=runs/cross_paper --parallel=2
  python -m ferjax.collect runs/cross_paper
On a real dataset (README "Real datasets"), e.g. FER-2013 from fer2013.csv:
  python launch.py --config=configs/cross_paper.py:method=sun,data=fer2013 \
      --config.data.manual_dir=<folder with fer2013.csv>
Arguments: method=sun|jalal|emotional_dan|feratt, data=wild|front|pose|<real builder>,
classes=7|8, seeds=3 (sweep only), runlocal.
Budgets (steps of each config's batch), short enough for a 2-core CPU: Sun (attention, Eq. 4) 60 of 32;
Jalal 80 of 16 at 64×64;
EmotionalDAN 30 per phase of 32 (stage 1 landmarks, stage 2 joint); FERAtt+Rep+Cls `small` 60
of 32 on the stored faces (render=false). Far from converged: a comparison at short budgets,
not the methods' best (the `steps` of each config file scale them up). Runtime and table:
README and docs/experiments.md.
"""

from ferjax.configs import emotional_dan, feratt, jalal_self_attention, pieces, sun
from ferjax.sweep import spec

DEFAULTS = {"method": "sun", "data": "wild", "classes": 7, "seeds": 3, "runlocal": False}

# Each method's own config with its arguments for the shared setting ({data}, {classes}).
METHODS = {
    "sun": (lambda a: sun.get_config("sun_attention", a), "steps=60"),
    "jalal": (jalal_self_attention.get_config, "steps=80,crop=64"),
    "emotional_dan": (emotional_dan.get_config, "steps=30"),
    "feratt": (feratt.get_config, "variant=rep_cls,small,render=false,steps=60"),
}


def get_config(arg=None):
    a = pieces.parse_arg(arg, DEFAULTS)
    if a.method not in METHODS:
        raise ValueError(f"config argument method={a.method!r}; expected one of "
                         f"{sorted(METHODS)}")
    build, budget = METHODS[a.method]
    c = build(f"data={a.data},classes={a.classes},{budget}"
              + (",runlocal" if a.runlocal else ""))
    # The sweep compares numbers: results.json only, no figures or per-paper analyses.
    c.evals = {"classification": c.evals.classification.to_dict()}
    if "stagewise" in c:
        c.stagewise.phase_evals = ("classification",)
    return c


def get_sweep(arg=None):
    """The four methods × `seeds` seeds, seed-major so that the methods share the machine."""
    a = pieces.parse_arg(arg, DEFAULTS)
    return spec.product(spec.seeds(a.seeds), spec.axis(":method", list(METHODS)))
