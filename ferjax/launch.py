"""Runs an experiment config: ferjax-train --config=configs/sun_attention.py[:args].

The same as `python launch.py ...` in a checkout or `python -m ferjax.launch ...`. The config is a
file path or, for an installed ferjax, a module name: --config=ferjax.configs.sun_attention:runlocal.

Flags: --config (file or module[:arg]), --workdir (default runs/<config>[-<arg>]; rerunning the same
command resumes from its checkpoints), typed --config.a.b=value overrides (unknown keys are
rejected), and --distributed / --coordinator_address / --num_processes / --process_id for
multi-process runs (cluster environments are detected without flags). A rerun into a workdir
whose stored config.json differs is refused with the fields named, unless
--allow_config_change (recorded in workdir/config_changes.jsonl).
"""

import contextlib
import re
import sys
import traceback
from pathlib import Path

from absl import app, flags, logging
from ml_collections import config_flags

from ferjax import config_spec

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file[:arg].",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Output directory (default runs/<config>).")
_DISTRIBUTED = flags.DEFINE_enum("distributed", "auto", ["auto", "on", "off"],
                                 "Start jax.distributed: auto = when flags or cluster env ask.")
_COORDINATOR = flags.DEFINE_string("coordinator_address", "", "host:port of process 0.")
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", 0, "Number of processes.")
_PROCESS_ID = flags.DEFINE_integer("process_id", -1, "This process's index.")
_ALLOW_CONFIG_CHANGE = flags.DEFINE_bool(
    "allow_config_change", False, "Continue a workdir's run with a config that differs from "
    "the stored workdir/config.json; the change is recorded in workdir/config_changes.jsonl.")
flags.mark_flag_as_required("config")


def default_workdir(config_arg: str) -> Path:
    """runs/<config file stem>[-<arg>], with the arg made filesystem-safe."""
    path, _, arg = config_arg.partition(":")
    name = Path(path).stem + (f"-{arg}" if arg else "")
    return Path("runs") / re.sub(r"[^A-Za-z0-9_.=-]+", "_", name)


def resolve_config_module(argv: list[str]) -> list[str]:
    """argv with --config=<module>[:arg] rewritten to --config=<file>[:arg] for config_flags."""
    return [f"--config={config_spec.resolve(a.split('=', 1)[1])}" if a.startswith("--config=")
            else a for a in argv]


def parse_flags(argv):
    """absl flag parsing with config override errors that name the field."""
    argv = resolve_config_module(argv)
    try:
        return flags.FLAGS(argv)
    except (AttributeError, KeyError) as e:
        bad = [a.split("=")[0] for a in argv if a.startswith("--config.")]
        sys.exit(f"error: unknown config field in {bad} ({e}); only fields the config file "
                 "defines can be overridden (see its get_config)")
    except flags.Error as e:
        # config_flags embeds the config file's traceback in the message; a user needs only its
        # last line (e.g. an unknown config argument and the accepted ones). --verbosity=1 keeps it.
        message = str(e)
        verbose = any(a.startswith("--verbosity=") and a.split("=", 1)[1] not in ("0", "-1")
                      for a in argv)
        if "Traceback (most recent call last)" in message and not verbose:
            last = [line for line in message.splitlines() if line.strip()][-1]
            message = f"{argv_config(argv)}: {last.split(': ', 1)[-1]}"
        sys.exit(f"error: {message}")


def argv_config(argv) -> str:
    """The --config=... argument as given, for naming it in an error."""
    return next((a for a in argv if a.startswith("--config=")), "--config")


def _fail(error: Exception):
    """Exits with one `error:` line; --verbosity=1 (or more) prints the traceback first."""
    if flags.FLAGS["verbosity"].value >= 1:
        traceback.print_exception(error)
    sys.exit(f"error: {error}")


def run_main(argv):
    """Runs the config of the parsed flags in its workdir (app.run's main)."""
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if not flags.FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)  # library INFO chatter hides the progress lines
    from ferjax.train import distributed, host_local, peers, run_config, workdir_lock
    distributed.maybe_initialize(_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value,
                                 _DISTRIBUTED.value)
    config = _CONFIG.value
    from ferjax.runs import validate
    try:  # every config value and the dataset's folder checked before anything is written
        validate.check_config(config)
        validate.check_manual_data(config.data)
    except validate.ConfigError as e:
        _fail(e)
    workdir = Path(_WORKDIR.value) if _WORKDIR.value else default_workdir(
        flags.FLAGS["config"].serialize().split("=", 1)[1])
    from ferjax import files, runs
    from ferjax.data import source_record, sources
    from ferjax.data.real import errors as data_errors
    from ferjax.data.real import label_codes
    with contextlib.ExitStack() as stack:
        try:  # one job per workdir, taken before anything is written there
            stack.enter_context(workdir_lock.hold_for_job(workdir))
            run_config.check_workdir(workdir, run_config.config_dict(config),
                                     allow_change=_ALLOW_CONFIG_CHANGE.value)
        except (run_config.ConfigChangedError, workdir_lock.WorkdirLockedError,
                host_local.HostLocalFailedError) as e:
            _fail(e)
        try:
            with peers.stop_on_lost_peer():  # one line, not a hang, when a peer process dies
                runs.run(config, workdir)  # the runner config.protocol names (ferjax/runs)
        except (files.ResultWriteError, sources.DamagedPreparedDataError,
                host_local.HostLocalFailedError, data_errors.MissingManualFile,
                label_codes.LabelCodeError, source_record.SourceChangedError) as e:
            _fail(e)  # what was written before stays (checkpoints, results)


def main():
    """The ferjax-train console command."""
    sys.exit(app.run(run_main, flags_parser=parse_flags))


if __name__ == "__main__":
    main()
