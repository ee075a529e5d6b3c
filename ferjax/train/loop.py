"""The engine that trains one model: train(config, workdir) -> TrainedModel.

Builds data, model and state from config, resumes from the newest checkpoint in the workdir,
runs jitted data-parallel steps, evaluates periodically, checkpoints (also on SIGTERM), stops
on a non-finite loss with the last good checkpoint intact, and returns the final evaluation.
What a run leaves beyond checkpoints and metrics (results.json, figures, analyses) is written
by the evaluators its runner calls (ferjax.runs).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import signal
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np
from absl import logging
from jax.experimental import multihost_utils

from ferjax import losses as loss_lib
from ferjax.data import pipeline
from ferjax.evaluation import metrics as metrics_lib
from ferjax.files import write_json
from ferjax.models import build_model, load_pretrained
from ferjax.train import checkpoint, distributed, ema, optim, state as state_lib, steps, writers


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN/Inf loss or gradient; the last good checkpoint is kept."""


class _TermSignal:
    """Notices SIGTERM in a single-process run.

    Multi-process runs ask orbax instead (`reached_preemption`): jax.distributed installs its
    own SIGTERM handler there, which tells every process and agrees on a step to save at, and
    that handler must stay in place, so this one is not installed (`active=False`).
    """

    def __init__(self, active: bool = True):
        self.received = False
        self.active = active
        self._previous = None

    def __enter__(self):
        if not self.active:
            return self
        try:
            self._previous = signal.signal(signal.SIGTERM, self._handle)
        except ValueError:  # not the main thread: leave signals alone
            self._previous = None
        return self

    def _handle(self, signum, frame):
        self.received = True

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)


def num_train_steps(train_cfg, train_size: int) -> int:
    """config.train.num_steps, or num_epochs × ceil(train_size / batch_size) when steps ≤ 0."""
    if train_cfg.num_steps > 0:
        return int(train_cfg.num_steps)
    if train_cfg.num_epochs <= 0:
        raise ValueError("set config.train.num_steps or config.train.num_epochs to a positive "
                         "value")
    return int(np.ceil(train_cfg.num_epochs * train_size / train_cfg.batch_size))


def _prepare_data(config) -> pipeline.Data:
    # Builders write their files once: process 0 prepares while the others wait.
    if jax.process_count() > 1 and jax.process_index() != 0:
        multihost_utils.sync_global_devices("ferjax:data_prepared")
        return pipeline.build_data(config.data, seed=config.seed)
    data = pipeline.build_data(config.data, seed=config.seed)
    if jax.process_count() > 1:
        multihost_utils.sync_global_devices("ferjax:data_prepared")
    return data


def _host_values(tree):
    """Fetches (and, across processes, gathers) device arrays to numpy."""
    if jax.process_count() > 1:
        return multihost_utils.process_allgather(tree, tiled=True)
    return jax.device_get(tree)


def evaluate(state, data: pipeline.Data, eval_fn, mesh, batch_size: int) -> dict:
    """Exact metrics over the whole evaluation split (padding excluded)."""
    transform = pipeline.EvalTransform(data.spec, data.norm)
    parts: list[dict] = []
    for local in pipeline.eval_batches(data.eval, transform,
                                       local_batch_size=distributed.local_batch_size(
                                           batch_size, "config.eval.batch_size"),
                                       process_index=jax.process_index(),
                                       process_count=jax.process_count()):
        parts.append(_host_values(eval_fn(state, distributed.global_batch(mesh, local))))
    merged = {k: np.concatenate([np.atleast_1d(p[k]) if np.ndim(p[k]) else np.array([p[k]])
                                 for p in parts]) for k in parts[0]}
    keep = merged["weight"] > 0
    result = metrics_lib.classification_report(merged["label"][keep], merged["prediction"][keep],
                                               data.info["class_names"])
    n = float(keep.sum())
    for k in merged:
        if k.startswith("loss_sum"):
            result[k.replace("loss_sum", "loss")] = float(merged[k].sum() / max(n, 1.0))
    return result


class _Progress:
    """Formats the progress line: step, loss, accuracy, images/s, ETA."""

    def __init__(self, num_steps: int, batch_size: int, start_step: int):
        self.num_steps, self.batch_size = num_steps, batch_size
        self.t0, self.step0 = time.perf_counter(), start_step

    def line(self, step: int, scalars: dict) -> str:
        elapsed = time.perf_counter() - self.t0
        rate = (step - self.step0) / elapsed if elapsed > 0 else 0.0
        eta = (self.num_steps - step) / rate if rate > 0 else float("nan")
        acc = f" | acc {scalars['accuracy']:.3f}" if "accuracy" in scalars else ""
        return (f"step {step}/{self.num_steps} | loss {scalars['loss']:.4f}{acc} | "
                f"{rate * self.batch_size:.1f} img/s | ETA {_duration(eta)}")


def _duration(seconds: float) -> str:
    if not np.isfinite(seconds):
        return "?"
    m, s = divmod(int(seconds), 60)
    return f"{m}m{s:02d}s"


@dataclasses.dataclass(frozen=True)
class TrainedModel:
    """What one training run produced.

    workdir: its directory (checkpoints/, metrics.jsonl, config.json, data_stats.json).
    config: the config it was trained with. data: the pipeline.Data it was trained on (None
      when a runner found the run already complete and did not rebuild it).
    result: the final evaluation (ferjax.evaluation.metrics.classification_report keys plus
      "loss", "loss/<term>" and "step"), or {"preempted": True, "step": s} when a preemption
      stopped it before the last step.
    """
    workdir: Path
    config: Any
    data: pipeline.Data | None
    result: dict

    @property
    def preempted(self) -> bool:
        return bool(self.result.get("preempted"))


def train_and_evaluate(config, workdir: str | Path) -> dict:
    """train(config, workdir).result: the final evaluation alone."""
    return train(config, workdir).result


def train(config, workdir: str | Path) -> TrainedModel:
    """Trains config.model on config.data per config.train; returns what it trained.

    Leaves in `workdir`: checkpoints/, metrics.jsonl, tensorboard/, config.json and
    data_stats.json (process 0 writes files).
    """
    workdir = Path(workdir)
    is_main = jax.process_index() == 0
    if is_main:
        workdir.mkdir(parents=True, exist_ok=True)
    mesh = distributed.data_mesh()
    data = _prepare_data(config)
    train_cfg = config.train
    num_steps = num_train_steps(train_cfg, data.info["train_size"])
    model = build_model(config.model, data.info)
    for name in config.losses:
        loss_lib.get(name)  # fail before compiling anything on a misspelt loss term

    schedule = optim.make_schedule(train_cfg.schedule, num_steps)
    tx = optim.make_optimizer(train_cfg.optimizer, schedule)
    rng = jax.random.key(config.seed)
    init_rng, step_rng = jax.random.split(rng)
    variables = load_pretrained(config.model, state_lib.init_variables(
        model, init_rng, data.info["image_shape"]))
    state = state_lib.create_train_state(model, variables, tx, train_cfg.get("trainable", ""))
    if train_cfg.get("init_from", ""):
        # Start from another run's weights (a resumable checkpoint below still takes priority).
        state = state_lib.warm_start(state, checkpoint.restore_variables(train_cfg.init_from))
    ema_decay = float(train_cfg.get("ema_decay", 0.0))
    state = ema.init(state, ema_decay)  # after warm_start: the EMA starts at the initial weights
    if is_main:
        logging.info("parameters:\n%s", state_lib.parameter_overview(state.params))
        print(state_lib.parameter_overview(state.params), flush=True)

    local_batch = distributed.local_batch_size(train_cfg.batch_size)
    distributed.local_batch_size(config.eval.batch_size, "config.eval.batch_size")  # fail early
    train_iter = iter(pipeline.train_dataset(
        data.train, pipeline.TrainTransform(data.spec, data.norm, **dict(config.data.augment)),
        seed=config.seed, local_batch_size=local_batch, process_index=jax.process_index(),
        process_count=jax.process_count()))
    manager = checkpoint.make_manager(workdir, train_cfg.checkpoint_every,
                                      train_cfg.get("keep_checkpoints", 3))
    repl = distributed.replicated(mesh)
    # Restored arrays are read straight into their shardings: a restored host tree cannot be
    # device_put across processes.
    state = jax.device_put(state, repl)
    state, start_step = checkpoint.restore_latest(manager, state, train_iter)
    writer = writers.MetricWriter(workdir, enabled=is_main)
    writer.truncate_after(start_step)
    if start_step >= num_steps:
        writer.drop(num_steps, "eval")  # a finished run rerun evaluates again: no second line
    if is_main:
        write_json(workdir / "config.json", json.loads(config.to_json_best_effort()))
        write_json(workdir / "data_stats.json", {"mean": data.norm.mean, "std": data.norm.std,
                                                 **{k: v for k, v in data.info.items()
                                                    if k != "mean_landmarks"}})
        if start_step:
            print(f"resumed from checkpoint at step {start_step}", flush=True)

    loss_terms = {k: dict(v) for k, v in config.losses.items()}
    batch_augment = dict(config.data.get("batch_augment", {}))
    train_fn = jax.jit(functools.partial(steps.train_step, loss_terms=loss_terms,
                                         batch_augment=batch_augment, ema_decay=ema_decay),
                       donate_argnums=0, out_shardings=(repl, repl))
    eval_fn = jax.jit(functools.partial(steps.eval_step, loss_terms=loss_terms),
                      out_shardings=repl)

    progress = _Progress(num_steps, train_cfg.batch_size, start_step)
    pending: list[tuple[int, dict]] = []
    preempted = False

    def flush_pending(step: int) -> None:
        """Checks finiteness of buffered steps and logs their mean; raises on NaN/Inf."""
        if not pending:
            return
        fetched = jax.device_get([m for _, m in pending])
        for (s, _), m in zip(pending, fetched):
            if m["finite"] < 1.0:
                raise NonFiniteLossError(
                    f"non-finite loss or gradients at step {s + 1} (loss={m['loss']}); training "
                    f"stopped. {_last_good(manager, workdir)}; lower "
                    "config.train.optimizer/schedule learning rate or check the data.")
        means = {k: float(np.mean([m[k] for m in fetched])) for k in fetched[0] if k != "finite"}
        means["learning_rate"] = float(schedule(step))
        writer.write(step, "train", means)
        if is_main:
            print(progress.line(step, means), flush=True)
        pending.clear()

    # A failure (NaN, interrupt) must not lose a checkpoint whose asynchronous save is still
    # in flight: always wait for it before leaving.
    try:
        with _TermSignal(active=jax.process_count() == 1) as term:
            for step in range(start_step, num_steps):
                batch = distributed.global_batch(mesh, next(train_iter))
                state, step_metrics = train_fn(state, batch, step_rng)
                pending.append((step, step_metrics))
                done = step + 1
                last = done == num_steps
                if done % train_cfg.log_every == 0 or last:
                    flush_pending(done)
                if train_cfg.eval_every and (done % train_cfg.eval_every == 0) and not last:
                    flush_pending(done)
                    result = evaluate(state, data, eval_fn, mesh, config.eval.batch_size)
                    writer.write(done, "eval", _scalars(result))
                    if is_main:
                        print(f"eval at step {done}: accuracy {result['accuracy']:.4f}",
                              flush=True)
                preempted = (manager.reached_preemption(done) if jax.process_count() > 1
                             else term.received)
                if preempted or manager.should_save(done) or last:
                    flush_pending(done)  # never save a state that followed a NaN step
                    checkpoint.save(manager, done, state, train_iter, force=True)
                if preempted:
                    break
    finally:
        manager.wait_until_finished()

    if preempted:
        if is_main:
            print(f"preempted: checkpoint saved at step {done}; rerun the same command to "
                  "resume", flush=True)
        writer.close()
        return TrainedModel(workdir, config, data, {"preempted": True, "step": done})

    result = evaluate(state, data, eval_fn, mesh, config.eval.batch_size)
    result["step"] = num_steps
    writer.write(num_steps, "eval", _scalars(result))
    writer.close()
    if is_main:
        print(f"final evaluation at step {num_steps}: accuracy {result['accuracy']:.4f} "
              f"on {result['num_examples']} examples", flush=True)
    return TrainedModel(workdir, config, data, result)


def _last_good(manager, workdir: Path) -> str:
    step = manager.latest_step()
    if step is None:
        return "No checkpoint was saved yet"
    return f"The last good checkpoint (step {step}) in {workdir / 'checkpoints'} is intact"


def _scalars(result: dict) -> dict:
    return {k: v for k, v in result.items() if isinstance(v, (int, float)) and k != "step"}
