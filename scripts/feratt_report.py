"""FERAtt's comparison report from cross-validation runs of configs/feratt.py.

    for v in baseline cls rep_cls; do
      python launch.py --config=configs/feratt.py:variant=$v,cv --workdir=runs/feratt_cv_$v
    done
    python scripts/feratt_report.py --runs=runs/feratt_cv --args=cv --out=runs/feratt_report

Reads each fold's results.json (accuracy, macro precision/recall/F1) and its last checkpoint,
then writes report.json and report.md (the paper's Tables 1–4 layout: mean ± std over folds,
the Friedman test with Nemenyi and Bonferroni-Dunn post-hoc on fold accuracies), k-NN (k = 11)
accuracy on the embedding z, I_att–mask IoU and AU-region attention shares (FERSynth), noise
robustness curves (paper Fig. 7–9), an I_att grid and a Barnes-Hut t-SNE of z (Fig. 6).
`--args` and `--override` must repeat the config arguments and overrides of the runs (without
`variant`), so the data and model are rebuilt exactly.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from configs import feratt as feratt_config  # noqa: E402
from ferjax import synth  # noqa: E402
from ferjax.data import pipeline, sources  # noqa: E402
from ferjax.evaluation import robustness, statistics  # noqa: E402
from ferjax.models import build_model  # noqa: E402
from ferjax.train import optim  # noqa: E402
from ferjax.train import state as state_lib  # noqa: E402
from ferjax.viz import feratt_figures  # noqa: E402

METHODS = {"baseline": "PreActResNet18", "cls": "FERAtt+Cls", "rep_cls": "FERAtt+Rep+Cls"}


def _config(variant: str, args: str, overrides: list[str], fold: int):
    config = feratt_config.get_config(",".join(filter(None, [f"variant={variant}", args])))
    for item in overrides:
        key, value = item.split("=", 1)
        node = config
        *path, leaf = key.split(".")
        for part in path:
            node = node[part]
        if isinstance(node[leaf], (tuple, list, dict)):
            raise ValueError(f"--override {key}: only scalar fields can be overridden here")
        node[leaf] = type(node[leaf])(value)
    config.data.fold = fold
    config.seed = config.seed + fold  # as ferjax.evaluation.crossval.run
    return config


def _restore(config, data, workdir: pathlib.Path):
    model = build_model(config.model, data.info)
    variables = state_lib.init_variables(model, jax.random.key(0), data.info["image_shape"])
    # The run's optimiser, so the restored optimiser state has the saved structure.
    tx = optim.make_optimizer(config.train.optimizer,
                              optim.make_schedule(config.train.schedule, 1))
    state = state_lib.create_train_state(model, variables, tx, config.train.get("trainable", ""))
    manager = ocp.CheckpointManager(workdir.resolve() / "checkpoints")
    step = manager.latest_step()
    if step is None:
        raise FileNotFoundError(f"no checkpoint under {workdir}/checkpoints")
    restored = manager.restore(step, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(state)))
    state = restored.state
    return model, {"params": state.params, "batch_stats": state.batch_stats}


def _forward(model, variables, data, source, batch_size=64, noise_sigma=0.0, seed=0):
    """Runs the model over a source (eval transform); optional noise in [0, 1] image units."""
    apply = jax.jit(lambda v, x: model.apply(v, x, train=False))
    transform = pipeline.EvalTransform(data.spec, data.norm)
    rng = np.random.default_rng(seed)
    keep = ("logits", "embedding", "attention_image")
    out = {k: [] for k in keep + ("label", "mask", "weight")}
    for batch in pipeline.eval_batches(source, transform, local_batch_size=batch_size):
        images = batch["image"]
        if noise_sigma:
            raw = data.norm.invert(images)
            images = data.norm.apply(robustness.add_gaussian_noise(raw, noise_sigma, rng))
        result = apply(variables, jnp.asarray(images))
        for k in keep:
            if k in result:
                out[k].append(np.asarray(result[k]))
        out["label"].append(batch["label"])
        out["weight"].append(batch["weight"])
        if "mask" in batch:
            out["mask"].append(batch["mask"])
    merged = {k: np.concatenate(v) for k, v in out.items() if v}
    real = merged["weight"] > 0
    return {k: v[real] for k, v in merged.items()}


def _au_share(attention_image, source, num_examples, labels, class_names):
    """Mean share of I_att mass inside the AU regions of each example's class, and the share a
    uniform map would get (the regions' area fraction)."""
    records = [source[i] for i in range(num_examples)]
    if "au_regions" not in records[0]:
        return None
    att = attention_image.mean(axis=-1)
    shares, areas = [], []
    for record, a, label in zip(records, att, labels):
        aus = [synth.au_index(name)
               for name in synth.EMOTION_AUS.get(class_names[int(label)], ())]
        if not aus:
            continue
        share = robustness.au_attention_share(a[None], np.asarray(record["au_regions"])[None],
                                              synth.NUM_AUS)[0]
        cells = np.asarray(record["au_regions"]).astype(np.int64)
        union = np.zeros_like(cells, bool)
        for k in aus:
            union |= ((cells >> k) & 1).astype(bool)
        shares.append(min(1.0, float(sum(share[k] for k in aus))))
        areas.append(float(union.mean()))
    return {"attention_share": float(np.mean(shares)), "uniform_share": float(np.mean(areas))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", required=True, help="prefix: <runs>_<variant>/fold<k>")
    parser.add_argument("--args", default="cv", help="config arguments of the runs")
    parser.add_argument("--override", action="append", default=[], help="a.b=value")
    parser.add_argument("--out", required=True)
    parser.add_argument("--noise_fold", type=int, default=0)
    parser.add_argument("--folds", default="", help="comma-separated subset of folds")
    parser.add_argument("--variants", default="baseline,cls,rep_cls")
    parser.add_argument("--max_examples", type=int, default=0,
                        help="> 0: score k-NN, I_att and noise on at most this many examples")
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    variants = [v for v in args.variants.split(",") if pathlib.Path(f"{args.runs}_{v}").is_dir()]
    folds = sorted(int(p.name[4:]) for p in pathlib.Path(f"{args.runs}_{variants[0]}").glob("fold*"))
    if args.folds:
        folds = [int(f) for f in args.folds.split(",")]
    report = {"methods": {}, "folds": folds}
    per_fold_acc = []
    noise, attention_images = {}, {}
    for variant in variants:
        rows, extra = [], []
        for fold in folds:
            workdir = pathlib.Path(f"{args.runs}_{variant}") / f"fold{fold}"
            r = json.loads((workdir / "results.json").read_text())
            p, rc = r["macro_precision"], r["macro_recall"]
            rows.append({"accuracy": r["accuracy"], "precision": p, "recall": rc,
                         "f1": r["macro_f1"],
                         "f1_of_macro_pr": 2 * p * rc / (p + rc) if p + rc else 0.0})
            config = _config(variant, args.args, args.override, fold)
            data = pipeline.build_data(config.data, seed=config.seed)
            model, variables = _restore(config, data, workdir)
            eval_src, train_src = data.eval, data.train
            if args.max_examples:
                eval_src = sources.SubsetSource(eval_src, np.arange(min(len(eval_src),
                                                                        args.max_examples)))
                train_src = sources.SubsetSource(train_src, np.arange(min(len(train_src),
                                                                          args.max_examples)))
            ev = _forward(model, variables, data, eval_src)
            tr = _forward(model, variables, data, train_src)
            fold_extra = {"knn11": statistics.knn_accuracy(tr["embedding"], tr["label"],
                                                           ev["embedding"], ev["label"])}
            if "attention_image" in ev and "mask" in ev:
                fold_extra["iatt_mask_iou"] = float(np.mean(
                    robustness.attention_mask_iou(ev["attention_image"], ev["mask"])))
                au = _au_share(ev["attention_image"], eval_src, len(ev["label"]), ev["label"],
                              data.info["class_names"])
                if au:
                    fold_extra.update(au)
            extra.append(fold_extra)
            if fold == args.noise_fold:
                noise[METHODS[variant]] = [float(np.mean(np.argmax(
                    _forward(model, variables, data, eval_src, noise_sigma=s)["logits"], -1)
                    == ev["label"])) for s in robustness.NOISE_SIGMAS]
                if "attention_image" in ev:
                    attention_images[variant] = ev
                if variant == variants[-1]:
                    feratt_figures.tsne_embedding(
                        ev["embedding"], ev["label"], data.info["class_names"],
                        path=str(out / f"tsne_{variant}.png"))
        summary = statistics.summarise_folds(rows)
        summary.update(statistics.summarise_folds(extra))
        report["methods"][METHODS[variant]] = {"summary": summary, "folds": rows, "extra": extra}
        per_fold_acc.append([row["accuracy"] for row in rows])

    names = [METHODS[v] for v in variants]
    scores = np.asarray(per_fold_acc).T  # (folds, methods)
    if len(names) >= 3 and len(folds) >= 2:
        fr = statistics.friedman(scores)
        report["friedman"] = {"chi2": fr.statistic, "p": fr.pvalue, "ranks": dict(
            zip(names, fr.average_ranks.tolist())), "iman_davenport_p": fr.iman_davenport_pvalue}
        report["nemenyi_p"] = statistics.nemenyi(scores, names).to_dict()
        report["bonferroni_dunn_vs_" + names[-1]] = statistics.bonferroni_dunn(
            scores, names, control=names[-1]).to_dict(orient="index")
    report["noise_sigmas"] = list(robustness.NOISE_SIGMAS)
    report["noise_accuracy"] = noise
    feratt_figures.noise_robustness_curves(robustness.NOISE_SIGMAS, noise,
                                           title=f"fold {args.noise_fold}",
                                           path=str(out / "noise_robustness.png"))
    if attention_images:
        variant, ev = list(attention_images.items())[-1]
        feratt_figures.attention_grid(
            {"I_att": ev["attention_image"][:8], "mask": ev["mask"][:8]},
            titles=[str(int(x)) for x in ev["label"][:8]], path=str(out / f"iatt_{variant}.png"))
    (out / "report.json").write_text(json.dumps(report, indent=2, default=float))
    lines = ["| Method | Acc. | Prec. | Rec. | F1 (of macro P, R) | macro F1 | k-NN(11) on z |",
             "|---|---|---|---|---|---|---|"]
    for name, m in report["methods"].items():
        s = m["summary"]
        cell = lambda k: f"{100 * s[k][0]:.2f} ± {100 * s[k][1]:.2f}"
        lines.append(f"| {name} | {cell('accuracy')} | {cell('precision')} | {cell('recall')} | "
                     f"{cell('f1_of_macro_pr')} | {cell('f1')} | {cell('knn11')} |")
    (out / "report.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(json.dumps({k: v for k, v in report.items() if k != "methods"}, indent=1, default=float))


if __name__ == "__main__":
    main()
