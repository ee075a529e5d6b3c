"""The engine that trains one model: train(config, workdir) -> TrainedModel.

Builds data, model and state from config, resumes from the newest checkpoint in the workdir,
runs jitted data-parallel steps, evaluates periodically, checkpoints (also on SIGTERM), stops
on a non-finite loss with the last good checkpoint intact, and returns the final evaluation.
What a run leaves beyond checkpoints and metrics (results.json, figures, analyses) is written
by the evaluators its runner calls (ferjax.runs).

train() is two parts: `_setup` checks the config against the data, builds the state, input,
step functions and checkpoint manager and restores the newest checkpoint (a `_Setup`), and
`_Loop` runs segments of steps with, at each segment's end and in this order, the periodic
actions: log, evaluate (validate and select), checkpoint, stop on a preemption.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
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
from ferjax.evaluation import tta
from ferjax.files import write_json
from ferjax.models import build_model, load_pretrained
from ferjax.train import best as best_lib
from ferjax.train import (
    checkpoint,
    dispatch,
    distributed,
    ema,
    feed,
    host_local,
    optim,
    precision,
    selection,
    steps,
    tta_step,
    writers,
)
from ferjax.train import state as state_lib


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN/Inf loss or gradient; the last good checkpoint is kept."""


class _TermSignal:
    """Notices a preemption signal: SIGTERM, or SIGUSR1 (what a SLURM job array asks for with
    --signal=USR1@<grace> before its time limit or a preemption, ferjax.sweep.scripts).

    Multi-process runs ask orbax instead (`reached_preemption`): jax.distributed installs its
    own SIGTERM handler there, which tells every process and agrees on a step to save at, and
    that handler must stay in place (`active=False`); SIGUSR1 is then passed on to it as a
    SIGTERM of this process, so both signals take the same agreed path.
    """

    def __init__(self, active: bool = True):
        self.received = False
        self.active = active
        self._previous: dict = {}

    def __enter__(self):
        handlers = {signal.SIGUSR1: self._handle if self.active else self._forward}
        if self.active:
            handlers[signal.SIGTERM] = self._handle
        for signum, handler in handlers.items():
            try:
                self._previous[signum] = signal.signal(signum, handler)
            except ValueError:  # not the main thread: leave signals alone
                pass
        return self

    def _handle(self, signum, frame):
        self.received = True

    @staticmethod
    def _forward(signum, frame):
        os.kill(os.getpid(), signal.SIGTERM)

    def __exit__(self, *exc):
        for signum, previous in self._previous.items():
            signal.signal(signum, signal.SIG_DFL if previous is None else previous)


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
    if jax.process_count() > 1:
        host_local.check_collective_allowed("preparing a training run's data")
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
        host_local.check_collective_allowed("gathering evaluation outputs (process_allgather)")
        return multihost_utils.process_allgather(tree, tiled=True)
    return jax.device_get(tree)


def evaluate(state, data: pipeline.Data, eval_fn, mesh, batch_size: int, source=None,
             tta_mode: str = "none") -> dict:
    """Exact metrics over the whole evaluation split, or `source` (e.g. data.validation),
    padding excluded; tta_mode: config.eval.tta (eval_fn must be its step)."""
    transform = tta.eval_transform(data.spec, data.norm, tta_mode)
    parts: list[dict] = []
    for local in pipeline.eval_batches(data.eval if source is None else source, transform,
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
    """Training speed since the last mark, and the progress line: step, loss, accuracy, img/s, ETA.

    The loop marks after each log line, evaluation and checkpoint, so the speed covers
    training alone (data, steps, logging); the first interval includes compilation.
    """

    def __init__(self, num_steps: int, batch_size: int, start_step: int):
        self.num_steps, self.batch_size = num_steps, batch_size
        self.mark(start_step)
        self.rate = 0.0

    def mark(self, step: int) -> None:
        self.t0, self.step0 = time.perf_counter(), step

    def images_per_s(self, step: int) -> float:
        """Images per second from the last mark to `step` (whose metrics were just fetched)."""
        elapsed = time.perf_counter() - self.t0
        self.rate = (step - self.step0) / elapsed if elapsed > 0 else 0.0
        return self.rate * self.batch_size

    def line(self, step: int, scalars: dict) -> str:
        eta = (self.num_steps - step) / self.rate if self.rate > 0 else float("nan")
        acc = f" | acc {scalars['accuracy']:.3f}" if "accuracy" in scalars else ""
        return (f"step {step}/{self.num_steps} | loss {scalars['loss']:.4f}{acc} | "
                f"{self.rate * self.batch_size:.1f} img/s | ETA {_duration(eta)}")


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
    setup = _setup(config, Path(workdir))
    loop = _Loop(setup)
    # A failure (NaN, interrupt) must not lose a checkpoint whose asynchronous save is still
    # in flight: always wait for it before leaving.
    try:
        with _TermSignal(active=jax.process_count() == 1) as term:
            loop.run(term)
    finally:
        setup.manager.wait_until_finished()
        setup.train_input.close()
    if loop.preempted:
        if setup.is_main:
            print(f"preempted: checkpoint saved at step {loop.done}; rerun the same command to "
                  "resume", flush=True)
        setup.writer.close()
        return TrainedModel(setup.workdir, config, setup.data,
                            {"preempted": True, "step": loop.done})
    return TrainedModel(setup.workdir, config, setup.data, _final_evaluation(setup, loop))


# --- setup: everything the loop needs, checked, built and restored before the first step ---


@dataclasses.dataclass
class _Plan:
    """What the config asks of this data, checked before anything is compiled."""
    local_batch: int
    num_steps: int
    eval_every: int
    criterion: Any  # selection.Criterion; None without a validation split
    tta_mode: str


@dataclasses.dataclass
class _Setup:
    """A training run ready for its first (or resumed) step."""
    config: Any
    workdir: Path
    is_main: bool
    data: pipeline.Data
    plan: _Plan
    schedule: Any
    state: Any  # the restored (or initial) train state, replicated over the mesh
    start_step: int
    step_rng: Any
    train_input: Any  # feed.TrainInput
    manager: Any  # checkpoint manager
    best: best_lib.BestCheckpoint | None
    writer: writers.MetricWriter
    caller: dispatch.StepCaller
    run_eval: Any  # run_eval(state, source=None) -> evaluation dict
    steps_per_call: int


def _setup(config, workdir: Path) -> _Setup:
    """Data, checks, initial state, input, checkpoint restore, run files, step functions."""
    is_main = jax.process_index() == 0
    if is_main:
        workdir.mkdir(parents=True, exist_ok=True)
    mesh = distributed.data_mesh()
    data = _prepare_data(config)
    plan = _plan(config, data)
    model = build_model(config.model, data.info)
    for name in config.losses:
        loss_lib.get(name)  # fail before compiling anything on a misspelt loss term
    train_cfg = config.train
    schedule = optim.make_schedule(train_cfg.schedule, plan.num_steps)
    state, step_rng = _initial_state(config, data, model, optim.make_optimizer(
        train_cfg.optimizer, schedule))
    if is_main:
        logging.info("parameters:\n%s", state_lib.parameter_overview(state.params))
        print(state_lib.parameter_overview(state.params), flush=True)

    train_input = feed.make_train_input(config, data, mesh, plan.local_batch, workdir)
    manager = checkpoint.make_manager(workdir, train_cfg.checkpoint_every,
                                      train_cfg.get("keep_checkpoints", 3))
    repl = distributed.replicated(mesh)
    # Restored arrays are read straight into their shardings: a restored host tree cannot be
    # device_put across processes.
    state = jax.device_put(state, repl)
    state, start_step = checkpoint.restore_latest(manager, state, train_input.iterator)
    best = None
    if plan.criterion is not None:
        best = best_lib.BestCheckpoint(workdir, plan.criterion)
        best.resume(manager, start_step, state)
    writer = writers.MetricWriter(workdir, enabled=is_main)
    writer.truncate_after(start_step)
    if start_step >= plan.num_steps or (best is not None and best.stop):
        writer.drop(start_step, "eval")  # a finished run rerun evaluates again: no second line
    if is_main:
        _write_run_files(workdir, config, data)
        if start_step:
            print(f"resumed from checkpoint at step {start_step}", flush=True)

    k = dispatch.steps_per_call(train_cfg)
    caller, run_eval = _step_functions(config, data, mesh, repl, train_input, k, plan.tta_mode)
    return _Setup(config, workdir, is_main, data, plan, schedule, state, start_step, step_rng,
                train_input, manager, best, writer, caller, run_eval, k)


def _plan(config, data: pipeline.Data) -> _Plan:
    train_cfg = config.train
    local_batch = distributed.local_batch_size(train_cfg.batch_size)  # fail early, by name
    distributed.local_batch_size(config.eval.batch_size, "config.eval.batch_size")
    num_steps = num_train_steps(train_cfg, data.info["train_size"])
    tta_mode = config.eval.get("tta", "none")
    for source in (data.eval, data.validation):
        if source is not None:  # a TTA mode the stored images cannot support fails here
            tta.check(tta_mode, tta.stored_size(source), data.spec.crop_size)
    criterion = None
    if data.validation is not None:
        criterion = selection.criterion(train_cfg)
        selection.check_metric(criterion, selection.available_metrics(config.losses))
    eval_every = selection.eval_interval(
        int(train_cfg.eval_every), -(-data.info["train_size"] // train_cfg.batch_size),
        criterion is not None)
    return _Plan(local_batch, num_steps, eval_every, criterion, tta_mode)


def _initial_state(config, data: pipeline.Data, model, tx) -> tuple[Any, Any]:
    """(train state before any restore, the step rng): init or pretrained weights, an optional
    warm start from another setup, the EMA copy."""
    train_cfg = config.train
    init_rng, step_rng = jax.random.split(jax.random.key(config.seed))
    variables = load_pretrained(config.model, state_lib.init_variables(
        model, init_rng, data.info["image_shape"]))
    state = state_lib.create_train_state(model, variables, tx, train_cfg.get("trainable", ""))
    if train_cfg.get("init_from", ""):
        # Start from another run's weights (a resumable checkpoint still takes priority).
        state = state_lib.warm_start(state, checkpoint.restore_variables(train_cfg.init_from))
    # After warm_start: the EMA starts at the initial weights.
    return ema.init(state, float(train_cfg.get("ema_decay", 0.0))), step_rng


def _write_run_files(workdir: Path, config, data: pipeline.Data) -> None:
    write_json(workdir / "config.json", json.loads(config.to_json_best_effort()))
    write_json(workdir / "data_stats.json", {"mean": data.norm.mean, "std": data.norm.std,
                                             **{k: v for k, v in data.info.items()
                                                if k != "mean_landmarks"}})


def _step_functions(config, data: pipeline.Data, mesh, repl, train_input, k: int,
                    tta_mode: str):
    """(the train-step caller, run_eval(state, source=None)), both jitted over the mesh."""
    train_cfg = config.train
    dtype = precision.compute_dtype(train_cfg)
    loss_terms = {name: dict(v) for name, v in config.losses.items()}
    train_step = functools.partial(steps.train_step, loss_terms=loss_terms, compute_dtype=dtype,
                                   batch_augment=dict(config.data.get("batch_augment", {})),
                                   ema_decay=float(train_cfg.get("ema_decay", 0.0)))
    caller = dispatch.StepCaller(
        train_input.step_fn(train_step, config.seed, train_cfg.batch_size), repl, k,
        stacked=not train_input.on_device)
    eval_fn = jax.jit(functools.partial(tta_step.eval_step_fn(tta_mode), loss_terms=loss_terms,
                                        compute_dtype=dtype), out_shardings=repl)
    run_eval = functools.partial(evaluate, data=data, eval_fn=eval_fn, mesh=mesh,
                                 batch_size=config.eval.batch_size, tta_mode=tta_mode)
    return caller, run_eval


# --- the loop: train segments, then the periodic actions at each segment's end ---


class _Loop:
    """Runs a _Setup's steps; between segments, in this order: log, evaluate (validate and
    select when the run selects), checkpoint, stop on a preemption or early stop."""

    def __init__(self, setup: _Setup):
        self.setup = setup
        self.state = setup.state
        self.done = self.saved = setup.start_step
        self.preempted = self.stopped = False
        self.progress = _Progress(setup.plan.num_steps, setup.config.train.batch_size,
                                  setup.start_step)
        self.buffer = dispatch.MetricBuffer()

    def run(self, term: _TermSignal) -> None:
        setup, plan = self.setup, self.setup.plan
        train_cfg = setup.config.train
        intervals = (train_cfg.log_every, plan.eval_every, train_cfg.checkpoint_every)

        def stop_requested(done: int) -> bool:
            if jax.process_count() > 1:
                return setup.manager.reached_preemption(done)
            return term.received

        # A run that stopped early and is run again trains no further.
        while self.done < plan.num_steps and not (setup.best is not None and setup.best.stop):
            # Steps up to the next log/eval/checkpoint point: nothing here waits for the
            # device, so the host prepares the next batches while it computes.
            stop = dispatch.next_stop(self.done, plan.num_steps, intervals)
            self.state, self.done, self.preempted = _run_segment(
                self.state, self.done, stop, setup.steps_per_call, setup.caller,
                setup.train_input.next, setup.step_rng, self.buffer, stop_requested)
            last = self.done == plan.num_steps
            self._log(last)
            self._evaluate(last)
            self._checkpoint(last)
            if self.preempted or self.stopped:
                break

    def _log(self, last: bool) -> None:
        if self.done % self.setup.config.train.log_every == 0 or last:
            self._flush_pending()

    def _evaluate(self, last: bool) -> None:
        setup, done, eval_every = self.setup, self.done, self.setup.plan.eval_every
        if setup.best is not None and (done % eval_every == 0 or last):
            self._flush_pending()
            result = setup.run_eval(self.state, source=setup.data.validation)
            self.stopped = _validate(setup.best, result, done, setup.writer, setup.is_main,
                                     save=self._save,
                                     save_best=lambda: setup.best.save(done, self.state))
            self.progress.mark(done)
        elif eval_every and done % eval_every == 0 and not last:
            self._flush_pending()
            result = setup.run_eval(self.state)
            setup.writer.write(done, "eval", _scalars(result))
            if setup.is_main:
                print(f"eval at step {done}: accuracy {result['accuracy']:.4f}", flush=True)
            self.progress.mark(done)

    def _checkpoint(self, last: bool) -> None:
        due = self.preempted or self.stopped or self.setup.manager.should_save(self.done) or last
        if due and self.saved != self.done:
            self._flush_pending()  # never save a state that followed a NaN step
            self._save()
            self.progress.mark(self.done)

    def _save(self) -> None:
        setup = self.setup
        checkpoint.save(setup.manager, self.done, self.state, setup.train_input.iterator,
                        force=True, selection=None if setup.best is None else setup.best.to_json())
        self.saved = self.done

    def _flush_pending(self) -> None:
        """Fetches the buffered steps' metrics, logs their mean; raises on NaN/Inf."""
        if not self.buffer:
            return
        setup, step = self.setup, self.done
        rows = self.buffer.fetch()
        for s, m in rows:
            if m["finite"] < 1.0:
                raise NonFiniteLossError(
                    f"non-finite loss or gradients at step {s + 1} (loss={m['loss']}); training "
                    f"stopped. {_last_good(setup.manager, setup.workdir)}; lower "
                    "config.train.optimizer/schedule learning rate or check the data.")
        means = {k: float(np.mean([m[k] for _, m in rows])) for k in rows[0][1] if k != "finite"}
        means["learning_rate"] = float(setup.schedule(step))
        means["images_per_s"] = self.progress.images_per_s(step)
        setup.writer.write(step, "train", means)
        if setup.is_main:
            print(self.progress.line(step, means), flush=True)
        self.progress.mark(step)


def _final_evaluation(setup: _Setup, loop: _Loop) -> dict:
    """The test split at the last step (and, for a selecting setup, at the best checkpoint)."""
    result = setup.run_eval(loop.state)
    result["step"] = loop.done
    setup.writer.write(loop.done, "eval", _scalars(result))
    if setup.is_main:
        print(f"final evaluation at step {loop.done}: accuracy {result['accuracy']:.4f} "
              f"on {result['num_examples']} examples", flush=True)
    if setup.best is not None:
        result = _test_at_best(setup.best, loop.state, result, setup.run_eval, setup.config,
                               setup.is_main)
        setup.best.close()
    setup.writer.close()
    return result


def _run_segment(state, start: int, stop: int, k: int, caller, next_feed, rng, buffer,
                 stop_requested) -> tuple[Any, int, bool]:
    """Runs steps start..stop-1, k per call; buffers their metrics on the device.

    next_feed(n): the input of a call of n steps (TrainInput.next).

    Stops early after a call at whose end a preemption was requested.
    Returns (state, steps done, preempted).
    """
    done = start
    for n in dispatch.call_sizes(start, stop, k):
        state, metrics = caller(state, next_feed(n), rng, n)
        buffer.add(done, n, metrics)
        done += n
        if stop_requested(done):
            return state, done, True
    return state, done, False


def _validate(best, result: dict, step: int, writer, is_main: bool, save, save_best) -> bool:
    """Records a validation evaluation; saves a new best (regular checkpoint with the new
    selection state first, then checkpoints_best/). Returns whether to stop early."""
    writer.write(step, "validation", _scalars(result))
    try:
        improved = best.observe(step, result)
    except selection.UnknownMetricError:
        save()  # keep the trained state before failing
        raise
    if improved:
        save()
        save_best()
    if is_main:
        print(f"validation at step {step}: {best.criterion.metric} "
              f"{result[best.criterion.metric]:.4f} (best {best.state.best_value} at step "
              f"{best.state.best_step})", flush=True)
    if best.stop and is_main:
        print(f"early stopping at step {step}: {best.criterion.patience} evaluations without "
              "improvement", flush=True)
    return best.stop


def _test_at_best(best, state, test_at_last: dict, run_eval, config, is_main: bool) -> dict:
    """results of a selecting run (ferjax.train.selection.results): the test split at the best
    checkpoint (restored from checkpoints_best/ unless it is the last) and at the last."""
    last_step, best_step = test_at_last["step"], best.state.best_step
    if best_step is None or best_step == last_step:
        test_at_best = dict(test_at_last)
    else:
        test_at_best = run_eval(best.best_state(state))
    if is_main:
        print(f"test at the best checkpoint (step {best_step}): accuracy "
              f"{test_at_best['accuracy']:.4f}", flush=True)
    return selection.results(test_at_best, test_at_last, best.state, best.criterion,
                             last_step=last_step, validation=_validation_name(config.data),
                             stopped_early=best.stop)


def _validation_name(data_cfg) -> str:
    split = data_cfg.get("validation_split", "")
    return split or f"{data_cfg.get('validation_fraction')} of the training subjects"


def _last_good(manager, workdir: Path) -> str:
    step = manager.latest_step()
    if step is None:
        return "No checkpoint was saved yet"
    return f"The last good checkpoint (step {step}) in {workdir / 'checkpoints'} is intact"


def _scalars(result: dict) -> dict:
    return {k: v for k, v in result.items() if isinstance(v, (int, float)) and k != "step"}
