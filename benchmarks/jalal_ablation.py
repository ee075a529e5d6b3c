"""Jalal et al. 2019 on FERSynth: with/without self-attention, with/without class balancing.

    python benchmarks/jalal_ablation.py --workdir=runs/jalal_ablation \
        --image_size=64 --crop=56 --steps=300 --batch=16 --lr=1e-3

Renders a FERSynth preset's (--preset, default `wild`) train and validation splits in memory
at --image_size (the builder's records, 4 per subject and class, smaller so a 2-core CPU can
train several variants), then trains
configs/jalal_self_attention.py once per variant through the standard trainer:
  attention            the full model (FERSynth draws classes evenly)
  no_attention         the same without the self-attention block
  imbalanced           attention model, training set subsampled to AffectNet's frequencies
  imbalanced_balanced  the same, then Jalal's class balancing (target = mean class count)
  (and the no-attention pair of the last two with --variants)
Prints one line per variant (validation accuracy, macro recall) and writes summary.json; each
variant's workdir has what its config's evaluators write (results, confusion matrix, curves,
and for the attention models the attention and self-attention query-map figures).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository's configs/

from ferjax import runs, synth  # noqa: E402
from ferjax.configs import jalal_self_attention  # noqa: E402
from ferjax.data import sources  # noqa: E402

VARIANTS = {
    "attention": "",
    "no_attention": "attention=False",
    "imbalanced": "imbalanced",
    "imbalanced_balanced": "imbalanced,balance",
    "imbalanced_no_attention": "imbalanced,attention=False",
    "imbalanced_balanced_no_attention": "imbalanced,balance,attention=False",
}


def render_split(preset: str, image_size: int, split: str, variants_per_class: int = 4,
                 seed: int = 0):
    """A FERSynth preset's records of one split (as its builder makes them) at image_size²."""
    config = synth.preset(preset, image_size=(image_size, image_size))
    return [synth.render_subject_example(config, seed, int(subject), name, variant)
            for subject in synth.split_subjects(config, split)
            for name in config.classes for variant in range(variants_per_class)]


def variant_config(arg: str, args, records):
    common = (f"data={args.preset},steps={args.steps},batch={args.batch},crop={args.crop},"
              f"lr={args.lr}" + (f",{args.args}" if args.args else ""))
    config = jalal_self_attention.get_config(f"{arg},{common}" if arg else common)
    config.data.source = "memory"
    config.data.records = records
    config.train.checkpoint_every = args.steps
    config.eval.batch_size = 64
    config.seed = args.seed
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", default="runs/jalal_ablation")
    parser.add_argument("--preset", default="wild", help="FERSynth preset: wild | front | pose")
    parser.add_argument("--image_size", type=int, default=64)
    parser.add_argument("--crop", type=int, default=56)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0, help="config.seed: init, order, plans")
    parser.add_argument("--args", default="", help="more configs/jalal_self_attention.py "
                        "arguments for every variant, e.g. dropout=0.15")
    parser.add_argument("--variants", default="attention,no_attention,imbalanced,"
                                              "imbalanced_balanced")
    args = parser.parse_args()
    root = Path(args.workdir)
    start = time.time()
    records = {split: sources.ListSource(render_split(args.preset, args.image_size, split))
               for split in ("train", "validation")}
    print(f"rendered {len(records['train'])} train / {len(records['validation'])} validation "
          f"images at {args.image_size}² in {time.time() - start:.0f} s", flush=True)
    summary_path = root / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    for name in args.variants.split(","):
        config = variant_config(VARIANTS[name], args, records)
        start = time.time()
        result = runs.run(config, root / name).summary
        row = {"accuracy": result["accuracy"], "macro_recall": result["macro_recall"],
               "train_size": int(json.loads((root / name / "data_stats.json").read_text())
                                 ["train_size"]),
               "seconds": round(time.time() - start), "arg": VARIANTS[name],
               "steps": args.steps, "batch": args.batch, "lr": args.lr, "crop": args.crop,
               "image_size": args.image_size, "preset": args.preset, "seed": args.seed,
               "args": args.args}
        summary[name] = row
        summary_path.write_text(json.dumps(summary, indent=2))
        print(f"{name}: {row}", flush=True)


if __name__ == "__main__":
    main()
