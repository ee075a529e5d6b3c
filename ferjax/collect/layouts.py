"""The papers' tables filled with a sweep's groups, the paper's own numbers beside ours.

Each layout reads what a group ran from its resolved config (config.json: model, data,
classes), so a row is matched however the sweep was declared. FERSynth stands in for the
papers' datasets (front -> RaFD-FRONT, pose -> RaFD-POSE, wild -> SFEW; for FERAtt, 7 classes
-> BU-3DFE, 8 -> CK+, rendered -> "Synthetic"): the paper column then says which dataset its
number comes from, and the two are not the same experiment.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from ferjax.collect import papers
from ferjax.collect.table import Group, format_stat, markdown

Table = tuple[str, list[str], list[list[str]]]  # (title, header, rows)


def _config(g: Group) -> dict[str, Any]:
    return next((r.config for r in g.runs if r.config), {})


def _get(cfg: dict, path: str, default=None):
    for part in path.split("."):
        if not isinstance(cfg, dict) or part not in cfg:
            return default
        cfg = cfg[part]
    return cfg


def _run_label(g: Group) -> str:
    return ", ".join(f"{k}={v}" for k, v in g.labels.items()) or "(all runs)"


def _data_label(cfg: dict) -> str:
    name, variant = _get(cfg, "data.name", "?"), _get(cfg, "data.config", "")
    return f"{name} {variant}".strip() if name != "fersynth" else f"FERSynth {variant}"


def _seeds(g: Group) -> str:
    return f"{len(g.finished)}/{len(g.runs)}"


def _fill(title: str, paper_rows: Sequence[tuple[Any, str, dict]], metrics: Sequence[str],
          groups: Sequence[Group], key_of: Callable[[dict], Any],
          first_columns: Sequence[str] = ("row", "ours: run"), digits: int = 1) -> Table:
    """Paper rows in order (ours under the rows they match), then our unmatched groups.

    paper_rows: (key, label, {metric: (mean, std) or fraction}); key_of(config) -> key.
    """
    header = [*first_columns, *(f"ours {m}" for m in metrics), "seeds",
              *(f"paper {m}" for m in metrics)]
    matched: dict[Any, list[Group]] = {}
    for g in groups:
        matched.setdefault(key_of(_config(g)), []).append(g)
    rows, used = [], set()
    for key, label, values in paper_rows:
        paper = [_paper_cell(values.get(m), digits) for m in metrics]
        for g in matched.get(key, []):
            rows.append([label, f"{_run_label(g)} ({_data_label(_config(g))})",
                         *(format_stat(m, g.values(m)) for m in metrics), _seeds(g), *paper])
        if key not in matched:
            rows.append([label, "—", *("—" for _ in metrics), "—", *paper])
        used.add(key)
    for key, gs in matched.items():
        if key not in used:
            for g in gs:
                rows.append([f"{key[-1] if isinstance(key, tuple) else key} (not in the paper)",
                             f"{_run_label(g)} ({_data_label(_config(g))})",
                             *(format_stat(m, g.values(m)) for m in metrics), _seeds(g),
                             *("—" for _ in metrics)])
    return title, header, rows


def _paper_cell(value, digits: int) -> str:
    if value is None:
        return "—"
    if isinstance(value, tuple):
        return papers.format_paper(value, digits)
    return f"{value:.3f}"  # EmotionalDAN's fractions


SUN_METHODS = {"sun_baseline": "The baseline CNN",
               "sun_gap": "The CNN with global average pooling"}
SUN_DATASETS = {("fersynth", "front"): "RAFD-FRONT", ("fersynth", "pose"): "RAFD-POSE",
                ("fersynth", "wild"): "SFEW", ("rafd", "front"): "RAFD-FRONT",
                ("rafd", "pose"): "RAFD-POSE", ("sfew", ""): "SFEW"}


def _sun_key(cfg: dict) -> tuple[str, str]:
    name = _get(cfg, "model.name", "")
    if name == "sun_attention":
        method = ("The CNN with Visual Attention (use Eq. (5))" if _get(cfg, "model.symmetric")
                  else "The CNN with Visual Attention (use Eq. (4))")
    else:
        method = SUN_METHODS.get(name, name or "?")
    data = (_get(cfg, "data.name", ""), _get(cfg, "data.config", "") or "")
    return SUN_DATASETS.get(data, _data_label(cfg)), method


def sun(groups: Sequence[Group]) -> list[Table]:
    """Sun et al. Table 5: validation accuracy per dataset and method."""
    rows = [((d, m), f"{d}: {m}", {"accuracy": v}) for (d, m), v in papers.SUN_TABLE5.items()]
    return [_fill("Sun et al. 2018, Table 5 (accuracy, %)", rows, ["accuracy"], groups,
                  _sun_key)]


def jalal(groups: Sequence[Group]) -> list[Table]:
    """Jalal et al. Table I: test accuracy (AffectNet validation set in the paper)."""
    def key(cfg):
        if _get(cfg, "model.name") != "jalal_self_attention":
            return _get(cfg, "model.name", "?")
        return "Proposed Network" if _get(cfg, "model.use_attention", True) else \
            "Without self-attention (ablation)"
    rows = [(m, m, {"accuracy": v}) for m, v in papers.JALAL_TABLE1.items()]
    return [_fill("Jalal et al. 2019, Table I (accuracy, %; paper: AffectNet validation)", rows,
                  ["accuracy"], groups, key)]


def _classes(cfg: dict) -> int:
    return {"three": 3, "seven": 7, "canonical8": 8}.get(_get(cfg, "data.label_space", ""), 0)


def emotional_dan(groups: Sequence[Group]) -> list[Table]:
    """EmotionalDAN Tables 2/3 (cross-dataset accuracy, 7/3 classes) and Table 5 (Grad-CAM)."""
    tables = []
    for number, classes, paper in ((2, 7, papers.EMOTIONAL_DAN_TABLE2),
                                   (3, 3, papers.EMOTIONAL_DAN_TABLE3)):
        ours = [g for g in groups if _classes(_config(g)) == classes]
        columns = list(next(iter(paper.values())))
        columns += sorted({m[6:] for g in ours for r in g.finished for m in r.metrics
                           if m.startswith("cross/") and m[6:] not in columns})
        metrics = [f"cross/{c}" for c in columns] + ["accuracy"]
        rows = [("EmotionalDAN" if name == "EmotionalDAN" else ("paper", name), name,
                 {f"cross/{c}": v for c, v in values.items()}) for name, values in paper.items()]
        tables.append(_fill(f"EmotionalDAN Table {number}: cross-dataset accuracy, {classes} "
                            "classes (accuracy = own validation split)", rows, metrics, ours,
                            lambda cfg: "EmotionalDAN"))
    emotions = list(papers.EMOTIONAL_DAN_TABLE5["conv4a"])
    rows = [(layer, layer, {f"table5/{layer}/{e}": v for e, v in values.items()})
            for layer, values in papers.EMOTIONAL_DAN_TABLE5.items()]
    header = ["layer", "ours: run", *emotions, "seeds"]
    body = []
    for layer, _, values in rows:
        body.append([f"{layer} (paper)", "—", *(f"{values[f'table5/{layer}/{e}']:.3f}"
                                                for e in emotions), "—"])
        for g in groups:
            body.append([layer, f"{_run_label(g)} ({_data_label(_config(g))})",
                         *(format_stat(f"table5/{layer}/{e}", g.values(f"table5/{layer}/{e}"))
                           for e in emotions), _seeds(g)])
    tables.append(("EmotionalDAN Table 5: top-k Grad-CAM landmarks in the AU sets", header, body))
    return tables


FERATT_VARIANTS = {"baseline": "PreActResNet18", "feratt_cls": "FERAtt+Cls",
                   "feratt_rep_cls": "FERAtt+Rep+Cls"}


def _feratt_table(cfg: dict) -> str:
    name = _get(cfg, "data.name", "")
    family = {"bu3dfe": "BU-3DFE", "ckplus": "CK+"}.get(name) or (
        "BU-3DFE" if _classes(cfg) == 7 else "CK+")
    synthetic = bool(_get(cfg, "data.composite.enabled", False))
    return next(t for t in papers.FERATT_TABLES
                if family in t and ("Synthetic" in t) == synthetic)


def feratt(groups: Sequence[Group]) -> list[Table]:
    """FERAtt Tables 1-4 (Acc., Prec., Rec., F1 in %), each group in the table of its setting."""
    metrics = ["accuracy", "macro_precision", "macro_recall", "macro_f1"]
    tables = []
    for title, paper in papers.FERATT_TABLES.items():
        ours = [g for g in groups if _feratt_table(_config(g)) == title]
        rows = [(name, name, values) for name, values in paper.items()]
        tables.append(_fill(f"FERAtt {title} (%)", rows, metrics, ours,
                            lambda cfg: FERATT_VARIANTS.get(_get(cfg, "model.variant", ""),
                                                            _get(cfg, "model.name", "?")),
                            digits=2))
    return tables


LAYOUTS = {"sun": sun, "jalal": jalal, "emotional_dan": emotional_dan, "feratt": feratt}


def render(paper: str, groups: Sequence[Group]) -> str:
    """The paper's tables as markdown."""
    if paper not in LAYOUTS:
        raise ValueError(f"--paper={paper!r}; expected one of {sorted(LAYOUTS)}")
    return "\n".join(markdown(header, rows, title) for title, header, rows in LAYOUTS[paper](groups))
