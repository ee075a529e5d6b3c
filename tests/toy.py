"""A tiny learnable dataset for trainer tests: a bright blob whose position encodes the class."""

import numpy as np

from ferjax.configs import pieces
from ferjax.data import sources

SIZE = 36  # stored images; the model sees 32×32 crops


def toy_records(n: int, seed: int, num_classes: int = 8, subjects: int = 10):
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        label = i % num_classes
        img = rng.integers(0, 60, (SIZE, SIZE, 1)).astype(np.uint8)
        r, c = divmod(label, 4)
        img[4 + 14 * r: 14 + 14 * r, 2 + 8 * c: 8 + 8 * c] = 230
        subject = int(rng.integers(0, subjects))
        records.append({"image": img, "label": np.int64(label), "subject_id": np.int64(subject),
                        "fold": np.int64(subject % 5)})
    return records


def toy_config(steps: int = 6, batch: int = 16, model: str = "sun_attention", seed: int = 0):
    c = pieces.base()
    c.seed = seed
    c.model = {"name": model, "dropout_rate": 0.0}
    c.data = pieces.fersynth_data()
    c.data.source = "memory"
    c.data.records = {"train": sources.ListSource(toy_records(64, 1)),
                      "validation": sources.ListSource(toy_records(24, 2))}
    c.data.crop_size = (32, 32)
    c.data.stats_examples = 32
    c.train.batch_size = batch
    c.train.num_steps = steps
    c.train.log_every = 2
    c.train.checkpoint_every = 2
    c.eval.batch_size = 16
    c.evals = {"classification": {"type": "classification"}}  # results.json, no figures
    return c
