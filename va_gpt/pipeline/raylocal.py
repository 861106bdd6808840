"""Connect to a Ray cluster, or start a local one the way this machine needs it."""

from __future__ import annotations

import os

import ray
from ray._private import ray_constants


def _loopback_only() -> None:
    """Make a local Ray bind every service (GCS, raylet, object manager, workers, agents) to loopback.

    Ray resolves a node IP of 127.0.0.1 to the machine's network address, and
    its servers bind to that address, unless `RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER`
    is 0. Ray reads that variable when it is imported, so the driver's copy of
    the constant is set as well (an earlier `import ray` saw the old value);
    the processes Ray starts inherit the variable.
    """

    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False


def start_ray(address: str | None = None, temp_dir: str | None = None, num_cpus: int | None = None) -> bool:
    """Connect to `address`, or start a local Ray; True when this call started it
    (the caller then shuts it down). Does nothing when Ray is already initialised.

    A local Ray listens on 127.0.0.1 only (every service: see `_loopback_only`),
    without auth, without the dashboard, and keeps its session files under
    `temp_dir` when given.
    """
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    if address:
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        ray.init(address=address)
        return True
    _loopback_only()
    kwargs: dict = {
        "include_dashboard": False,
        "num_cpus": num_cpus or os.cpu_count(),
        "_node_ip_address": "127.0.0.1",
    }
    if temp_dir:
        os.makedirs(temp_dir, exist_ok=True)
        kwargs["_temp_dir"] = os.path.abspath(temp_dir)
    ray.init(**kwargs)
    return True
