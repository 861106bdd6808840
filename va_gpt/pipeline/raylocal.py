"""Connect to a Ray cluster, or start a local one the way this machine needs it."""

from __future__ import annotations

import os


def start_ray(address: str | None = None, temp_dir: str | None = None, num_cpus: int | None = None) -> bool:
    """Connect to `address`, or start a local Ray; True when this call started it
    (the caller then shuts it down). Does nothing when Ray is already initialised.

    A local Ray listens on 127.0.0.1 only, without auth, without the dashboard,
    and keeps its session files under `temp_dir` when given.
    """
    import ray

    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    if address:
        ray.init(address=address)
        return True
    kwargs: dict = {"include_dashboard": False, "num_cpus": num_cpus or os.cpu_count()}
    if temp_dir:
        os.makedirs(temp_dir, exist_ok=True)
        kwargs["_temp_dir"] = os.path.abspath(temp_dir)
    ray.init(**kwargs)
    return True
