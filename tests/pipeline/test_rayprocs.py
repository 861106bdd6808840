"""The test helper that ends a timed-out child's Ray processes ends those and only those."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
import pytest

from tests.pipeline.rayprocs import end_processes_of

pytestmark = pytest.mark.timeout(60)

# A process that names its dir on its command line and starts a child that does not (as a
# driver starts a raylet, and the raylet its workers).
_PARENT = (
    "import subprocess, sys, time; subprocess.Popen(['sleep', '60']); print('up', flush=True); time.sleep(60)"
)


def _start(dir_: str) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", _PARENT, dir_], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "up"
    return p


def test_the_processes_of_a_dir_and_their_children_end_and_others_do_not(tmp_path):
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    mine, other = _start(str(ours)), _start(str(theirs))
    try:
        grandchild = psutil.Process(mine.pid).children()[0]
        assert end_processes_of([str(ours)]) == 2
        assert mine.wait(timeout=10) is not None
        deadline = time.monotonic() + 10
        while grandchild.is_running() and grandchild.status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, "the child of the dir's process still runs"
            time.sleep(0.1)
        assert other.poll() is None, "a process of another dir was ended"
    finally:
        end_processes_of([str(ours), str(theirs)])  # first, so no `sleep` child is left orphaned
        for p in (mine, other):
            p.kill()
            p.wait()
