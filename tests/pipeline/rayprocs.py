"""Ending the Ray processes a test started, and only those.

A test that runs Ray in a child process or `ray start` nodes gives each a temp dir of its own;
when the child dies or times out, the raylet, GCS and agents it started would live on and hold
ports and CPU for the rest of the session. These helpers find them by that dir (never `ray stop`,
which would end every Ray on the machine).
"""

from __future__ import annotations

import os

import psutil


def names_dir(p: psutil.Process, dirs: list[str]) -> bool:
    """Whether the process's command line or open files name one of `dirs`."""
    try:
        if any(d in " ".join(p.cmdline()) for d in dirs):
            return True
        # Ray's agents retitle themselves (ray::DashboardAgent): their open log files name the dir.
        return any(d in f.path for f in p.open_files() for d in dirs)
    except psutil.Error:
        return False


def end_processes_of(dirs: list[str]) -> int:
    """End the processes (and their children) whose command line or open files name one of
    `dirs`: terminate, then kill what is left after 5 s. Returns how many there were."""
    mine = {p.pid: p for p in psutil.process_iter() if p.pid != os.getpid() and names_dir(p, dirs)}
    for p in list(mine.values()):
        try:
            mine.update({c.pid: c for c in p.children(recursive=True)})
        except psutil.Error:
            pass
    for p in mine.values():
        try:
            p.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(list(mine.values()), timeout=5)
    for p in alive:
        try:
            p.kill()
        except psutil.Error:
            pass
    return len(mine)
