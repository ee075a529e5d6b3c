"""Checks of a whole config before a start has any side effect (docs/reliability.md).

The launcher calls `check_config` right after parsing, before the workdir lock, config.json,
a dataset build or a checkpoint directory, so a refused start leaves the workdir as it was and
the corrected command can start there. train() keeps its own checks as a second line.
"""

from ferjax import runs  # the runners (same layer)
from ferjax.runs import evaluators
from ferjax.train import distributed, optim


class ConfigError(ValueError):
    """A config value that cannot start a run; the message names the field and the fix."""


def _batch_sizes(config) -> None:
    # The same pure checks train() makes, so both lines agree on what a valid batch is.
    distributed.local_batch_size(int(config.train.batch_size), "config.train.batch_size")
    distributed.local_batch_size(int(config.eval.batch_size), "config.eval.batch_size")


def _budget(config) -> None:
    if config.train.num_steps <= 0 and config.train.num_epochs <= 0:
        raise ValueError("set config.train.num_steps or config.train.num_epochs to a positive "
                         f"number (num_steps={config.train.num_steps}, "
                         f"num_epochs={config.train.num_epochs})")


def _protocol(config) -> None:
    # runs.get would also import the runner; only the name is needed here.
    if config.protocol not in runs.names():
        raise ValueError(f"config.protocol={config.protocol!r} is not a runner; choose one of "
                         f"{runs.names()}")


def _optimizer(config) -> None:
    # Building them is pure (optax objects, no arrays); the step count only shapes the decay.
    steps = int(config.train.num_steps) if config.train.num_steps > 0 else 1000
    optim.make_optimizer(config.train.optimizer, optim.make_schedule(config.train.schedule, steps))


def check_config(config) -> None:
    """Raises ConfigError (one paragraph, naming the field and the fix) for the first bad value."""
    for check in (_batch_sizes, _budget, _protocol, _optimizer, evaluators.check):
        try:
            check(config)
        except ConfigError:
            raise
        except ValueError as e:
            raise ConfigError(f"{e}; fix it with --config.<field>=<value> and start again") from e
