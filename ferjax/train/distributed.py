"""Devices, processes and shardings for data-parallel training over every device and host.

Parameters are replicated and batches are split along the leading axis of a 1-D "data" mesh;
`jax.jit` inserts the gradient all-reduce. The mesh axis is Auto, not the default Explicit,
because Linen's Dropout fails on Explicit data-sharded inputs.
Multi-process runs start a watchdog for dead peers (ferjax.train.peers).
"""

from __future__ import annotations

import os
from typing import Any

import jax
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

CLUSTER_ENV_VARS = ("JAX_COORDINATOR_ADDRESS", "SLURM_JOB_ID", "OMPI_COMM_WORLD_SIZE",
                    "TPU_WORKER_HOSTNAMES", "MEGASCALE_COORDINATOR_ADDRESS")


def maybe_initialize(coordinator_address: str = "", num_processes: int = 0,
                     process_id: int = -1, mode: str = "auto") -> bool:
    """Starts jax.distributed when asked by flags or by a cluster's environment.

    mode: "auto" (flags or cluster variables), "on" (always), "off" (never).
    Returns whether it was initialised. Must run before anything touches devices.
    """
    if mode not in ("auto", "on", "off"):
        raise ValueError(f"--distributed={mode!r}; expected auto, on or off")
    flags_given = bool(coordinator_address) or num_processes > 1
    env_given = any(v in os.environ for v in CLUSTER_ENV_VARS)
    if mode == "off" or (mode == "auto" and not (flags_given or env_given)):
        return False
    kwargs: dict[str, Any] = {}
    if coordinator_address:
        kwargs["coordinator_address"] = coordinator_address
    if num_processes:
        kwargs["num_processes"] = num_processes
    if process_id >= 0:
        kwargs["process_id"] = process_id
    jax.distributed.initialize(**kwargs)
    if jax.process_count() > 1:
        from ferjax.train import peers
        peers.start_watchdog(peers.timeout_from_env())
    return True


def data_mesh() -> jax.sharding.Mesh:
    """1-D mesh over every device of every process."""
    return jax.make_mesh((jax.device_count(),), ("data",),
                         axis_types=(jax.sharding.AxisType.Auto,))


def replicated(mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def batch_sharded(mesh) -> NamedSharding:
    return NamedSharding(mesh, P("data"))


def local_batch_size(global_batch_size: int, field: str = "config.train.batch_size") -> int:
    """This process's share of the global batch; the global batch must split over devices.

    `field` names the config field in errors.
    """
    devices = jax.device_count()
    if global_batch_size <= 0:
        raise ValueError(f"{field}={global_batch_size} must be positive")
    if global_batch_size % devices:
        raise ValueError(f"{field}={global_batch_size} must be a multiple of the "
                         f"number of devices ({devices})")
    return global_batch_size // jax.process_count()


def global_batch(mesh, local: dict[str, np.ndarray]) -> dict[str, jax.Array]:
    """Assembles this process's numpy batch into global arrays sharded over the mesh."""
    sharding = batch_sharded(mesh)
    return {k: jax.make_array_from_process_local_data(sharding, np.asarray(v))
            for k, v in local.items()}
