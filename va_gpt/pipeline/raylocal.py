"""Connect to a Ray cluster, or start a local one the way this machine needs it."""

from __future__ import annotations

import os
import threading
import time

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


# The driver-side threads of a Ray Data execution: the executor's (it ends once the executor
# is shut down) and the batch iterator's workers (they end after their current block once
# the iterator is closed; one still fetching when ray.shutdown() runs ends the process too).
# The "Prefetcher" thread is not among them: it parks for good once nothing is asked of it.
_RAY_DATA_THREADS = ("StreamingExecutor-", "iter_threaded")


def stop_ray(timeout_s: float = 30.0) -> None:
    """ray.shutdown() once Ray Data's driver threads have ended (up to `timeout_s` in all).

    A job stopped early (a storage outage raised while the dataset still runs) leaves its
    executor thread and the batch iterator's worker threads winding down; if one of them calls
    into Ray after ray.shutdown(), Ray ends the whole process with exit code 1 ("the core
    worker has already been shutdown"), so the driver's own exit code (3 for an outage) and
    any cleanup after it would be lost.
    """
    deadline = time.monotonic() + timeout_s
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and thread.name.startswith(_RAY_DATA_THREADS):
            thread.join(max(0.0, deadline - time.monotonic()))
    ray.shutdown()
