"""python -m ferjax.evaluate --workdir=runs/x --data=ckplus [--data_config=...] [--split=...]
    [--manual_dir=...] [--data_dir=...] [--out=...] [--absent_classes=restrict|wrong]
    [--crop=...] [--crop_margin=...] [--builder_kwargs='{"field": value}'] [--batch_size=...]

Scores a trained run on another dataset without retraining: accuracy, macro-F1 (over the
classes present in the scored labels) and the confusion matrix, printed and written as strict
JSON (default: <workdir>/evaluate/<data>[-<config>]-<split>.json).

The test set is read as the run read its own data: the run's image size, channels, centre
crop, face crop settings and label space, normalised with the run's training statistics
(data_stats.json). A run whose builder arguments set no image size (FERSynth's default
frames) has a real test set prepared at its crop size. Label spaces that differ are mapped as
ferjax.evaluation.cross_dataset describes (7-class model on 8-class data: contempt examples
dropped and counted; 8-class model on 7-class data: argmax over the test set's classes by
default, --absent_classes=wrong to count contempt predictions as errors).

Default split: the dataset's test split (FER-2013: PrivateTest), or, for datasets evaluated by
subject folds (CK+, JAFFE, CK+48), every labelled image (their whole cross-validation pool):
a model trained elsewhere has seen none of them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import ml_collections
from absl import app, flags

from ferjax import labels
from ferjax.data import builders, pipeline, sources
from ferjax.evaluation import cross_dataset, tta
from ferjax.files import json_text, write_json
from ferjax.runs import restore


def define_flags() -> dict:
    """The command line's absl flags (defined when run as `python -m ferjax.evaluate`, not on
    import, so that importing this module beside another entry point defines nothing)."""
    policies = list(cross_dataset.ABSENT_CLASS_POLICIES)
    return {
        "workdir": flags.DEFINE_string("workdir", None, "Directory of the trained run."),
        "data": flags.DEFINE_string("data", None,
                                    "Dataset builder to test on (fersynth, ckplus, ...)."),
        "data_config": flags.DEFINE_string("data_config", "",
                                           "Its builder config ('' = its default)."),
        "split": flags.DEFINE_string("split", "", "Split(s) to score, e.g. test or train+test "
                                     "('' = the dataset's test split, or its whole fold pool)."),
        "manual_dir": flags.DEFINE_string("manual_dir", "",
                                          "Folder holding the dataset's own files."),
        "data_dir": flags.DEFINE_string("data_dir", "", "tfds data_dir of the prepared data "
                                        "('' = the run's)."),
        "out": flags.DEFINE_string("out", "",
                                   "JSON file to write ('' = <workdir>/evaluate/...)."),
        "absent_classes": flags.DEFINE_enum(
            "absent_classes", "restrict", policies, "Model classes the test set lacks: restrict "
            "the argmax to the test set's classes, or count their predictions as wrong."),
        "crop": flags.DEFINE_string("crop", "",
                                    "Face crop of the test set's builder ('' = the run's)."),
        "crop_margin": flags.DEFINE_float("crop_margin", None, "Face margin of the test set's "
                                          "builder (default: the run's)."),
        "batch_size": flags.DEFINE_integer("batch_size", 0,
                                           "Evaluation batch (0 = the run's eval batch)."),
        "builder_kwargs": flags.DEFINE_string(
            "builder_kwargs", "", "JSON object of further builder config fields of the test "
            "set, e.g. '{\"peak_frames\": 1}'."),
    }


# RealConfig fields that describe how the run's images looked; carried to a real test set.
_PREPROCESSING = ("image_size", "grey", "crop", "crop_margin", "illumination")


def default_split(name: str, config: str) -> str:
    """The split a model trained elsewhere is scored on (module docstring)."""
    if name == "fersynth":
        return "test"
    protocol = builders.protocol(name, config)
    if protocol is None:
        return "test"
    return protocol.train_split if protocol.kind == "folds" else protocol.test_split


def target_data_config(run_data, name: str, config: str = "", split: str = "",
                       manual_dir: str = "", data_dir: str = "", crop: str = "",
                       crop_margin: float | None = None,
                       builder_kwargs: dict | None = None) -> ml_collections.ConfigDict:
    """The run's config.data turned into the test set `name`/`config` (its split `split`, or
    default_split), keeping the run's preprocessing (module docstring); `builder_kwargs` set
    further fields of the test set's builder config."""
    run_kwargs = dict(run_data.get("builder_kwargs", {}) or {})
    if name == run_data["name"]:
        kwargs = run_kwargs
    elif name == "fersynth":
        kwargs = {}  # FERSynth frames are fixed by its preset
    else:
        kwargs = {k: run_kwargs[k] for k in _PREPROCESSING if k in run_kwargs}
        kwargs.setdefault("image_size", tuple(int(v) for v in run_data["crop_size"]))
        kwargs.setdefault("grey", int(run_data["channels"]) == 1)
    if crop:
        kwargs["crop"] = crop
    if crop_margin is not None:
        kwargs["crop_margin"] = float(crop_margin)
    if "mask" in kwargs:
        kwargs["mask"] = False  # classification needs no face mask
    kwargs.update(builder_kwargs or {})
    live = name == "fersynth" and run_data["source"] == "fersynth_live"
    split = split or default_split(name, config)
    test_cfg = cross_dataset.config_for_test_set(run_data, {
        "source": "fersynth_live" if live else "tfds", "name": name, "config": config,
        "train_split": split, "eval_split": split, "fold": -1,
        "manual_dir": manual_dir or "", "data_dir": data_dir or run_data.get("data_dir", ""),
        "extra_keys": (),
    })
    with test_cfg.unlocked():
        test_cfg.builder_kwargs = kwargs  # replaced, not merged into the run's
    return test_cfg


def target_classes(data_cfg) -> tuple[str, ...]:
    """Canonical class names the test set's records can carry."""
    if data_cfg["name"] == "fersynth":
        from ferjax import synth
        kwargs = dict(data_cfg.get("builder_kwargs", {}) or {})
        kwargs = {k: v for k, v in kwargs.items() if k not in ("seed",)}
        return tuple(synth.preset(data_cfg["config"] or "front", **kwargs).classes)
    cls = builders.builder_class(data_cfg["name"])
    if not hasattr(cls, "label_classes"):
        return labels.CLASSES
    return tuple(cls.label_classes(data_cfg["config"] or None))


def run_data_from_stats(workdir: Path, config) -> pipeline.Data | None:
    """The run's input spec and normalisation from workdir/data_stats.json (no training data
    needed), or None when the file is missing."""
    path = Path(workdir) / "data_stats.json"
    if not path.exists():
        return None
    stats = json.loads(path.read_text())
    data_cfg = config.data
    spec = pipeline.ExampleSpec(
        crop_size=tuple(int(v) for v in data_cfg.crop_size), channels=int(data_cfg.channels),
        label_table=tuple(int(v) for v in labels.label_map_table(data_cfg.label_space)))
    info = {"num_classes": int(stats["num_classes"]), "class_names": tuple(stats["class_names"]),
            "image_shape": tuple(stats["image_shape"]),
            "mean_landmarks": stats.get("mean_landmarks")}
    norm = pipeline.Normalisation(stats["mean"], stats["std"])
    return pipeline.Data(train=None, eval=None, spec=spec, norm=norm, info=info)


def restore_run(workdir: Path, checkpoint_kind: str = "selected") -> restore.RestoredModel:
    """The run's final model (a stage-wise run's last phase; checkpoint_kind as
    restore.restore_model), without its training data when data_stats.json suffices."""
    workdir = restore.model_dir(workdir)
    config = restore.load_config(workdir)
    data = run_data_from_stats(workdir, config)
    if data is not None:
        try:
            return restore.restore_model(workdir, config, data, checkpoint_kind)
        except ValueError as err:
            if "mean_landmarks" not in str(err):
                raise
            # EmotionalDAN's S_0 is the training set's mean shape: rebuild the run's data.
    return restore.restore_model(workdir, config, checkpoint_kind=checkpoint_kind)


def evaluate(workdir: str | Path, name: str, config: str = "", *, split: str = "",
             manual_dir: str = "", data_dir: str = "", absent_classes: str = "restrict",
             crop: str = "", crop_margin: float | None = None, batch_size: int = 0,
             builder_kwargs: dict | None = None) -> dict:
    """The run in `workdir` scored on dataset `name`/`config` (module docstring); JSON-ready."""
    workdir = Path(workdir)
    restored = restore_run(workdir)
    run_cfg = restored.config
    test_cfg = target_data_config(run_cfg.data, name, config, split, manual_dir, data_dir, crop,
                                  crop_margin, builder_kwargs)
    split = test_cfg.eval_split
    source = sources.open_split(test_cfg, split)
    label_space = run_cfg.data.label_space
    spec = restored.data.spec
    kept = sources.SubsetSource(source, pipeline.labelled_indices(source, spec.label_table))
    dropped = cross_dataset.dropped_by_class(sources.field_values(source, "label"), label_space)
    class_names = tuple(restored.data.info["class_names"])
    allowed = cross_dataset.scored_classes(label_space, target_classes(test_cfg))
    report = {"workdir": str(workdir), "model": run_cfg.model.name,
              "trained_on": {"data": run_cfg.data.name, "config": run_cfg.data.config,
                             "label_space": label_space},
              "test_set": {"data": name, "config": config, "split": split,
                           "builder_kwargs": test_cfg.builder_kwargs.to_dict(),
                           "examples_in_split": len(source),
                           "classes": list(target_classes(test_cfg))},
              "scored_classes": [c for c, a in zip(class_names, allowed) if a],
              "dropped_examples": int(sum(dropped.values())), "dropped_by_class": dropped}
    if len(kept) == 0:
        raise ValueError(f"none of the {len(source)} examples of {name}/{config or 'default'} "
                         f"split {split!r} has a class of the run's label space {label_space!r} "
                         f"({list(class_names)})")
    # The run's own test-time augmentation (config.eval.tta), as its reported numbers used.
    tta_mode = run_cfg.eval.get("tta", "none")
    tta.check(tta_mode, tta.stored_size(kept), spec.crop_size)
    transform = tta.eval_transform(spec, restored.data.norm, tta_mode)
    report["tta"] = tta_mode
    batch = batch_size or int(run_cfg.eval.batch_size)
    truth, logits = cross_dataset.predict_logits(lambda x: restored.apply(x)["logits"], kept,
                                                 transform, batch)
    report.update(cross_dataset.label_mapped_report(truth, logits, class_names, allowed,
                                                    absent_classes))
    return report


def default_out(workdir: str | Path, name: str, config: str, split: str) -> Path:
    tag = "-".join(filter(None, (name, config, split.replace("+", "_"))))
    return Path(workdir) / "evaluate" / f"{tag}.json"


def main(argv, holders: dict):
    """Runs the command line; holders: define_flags()."""
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments {argv[1:]}; see --help")
    f = {name: holder.value for name, holder in holders.items()}
    if not f["workdir"] or not f["data"]:
        raise app.UsageError("--workdir and --data are required")
    try:
        extra = json.loads(f["builder_kwargs"]) if f["builder_kwargs"] else {}
    except json.JSONDecodeError as err:
        raise app.UsageError(f"--builder_kwargs is not a JSON object: {err}") from None
    if not isinstance(extra, dict):
        raise app.UsageError("--builder_kwargs must be a JSON object, got "
                             f"{f['builder_kwargs']!r}")
    try:
        report = evaluate(f["workdir"], f["data"], f["data_config"], split=f["split"],
                          manual_dir=f["manual_dir"], data_dir=f["data_dir"],
                          absent_classes=f["absent_classes"], crop=f["crop"],
                          crop_margin=f["crop_margin"], batch_size=f["batch_size"],
                          builder_kwargs=extra)
    except (FileNotFoundError, ValueError) as err:
        sys.exit(f"error: {err}")
    out = Path(f["out"]) if f["out"] else default_out(
        f["workdir"], f["data"], f["data_config"], report["test_set"]["split"])
    write_json(out, report)
    print(json_text(report))
    print(f"written to {out}", file=sys.stderr)


def console_main():
    """The ferjax-evaluate console command."""
    flag_holders = define_flags()
    app.run(lambda argv: main(argv, flag_holders))


if __name__ == "__main__":
    console_main()
