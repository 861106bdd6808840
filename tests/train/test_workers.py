"""Pool workers of a killed job end instead of waiting for tasks forever (va_gpt.train.workers)."""

import os
import signal
import subprocess
import sys
import time

import pytest

from va_gpt.train.workers import exit_with_parent

# A job that starts a pool of two workers the way the training jobs do, waits until both are
# busy with a long task and then dies the way a killed job does: SIGKILL, no pool shutdown.
JOB = """
import multiprocessing, os, signal, sys, time
from concurrent.futures import ProcessPoolExecutor
from va_gpt.train.workers import exit_with_parent

def busy(out):
    with open(os.path.join(out, str(os.getpid())), "w"):
        pass
    time.sleep(120)  # a long task: rendering a chunk of videos, training a member

if __name__ == "__main__":
    kind, out = sys.argv[1:]
    if kind == "spawn":  # the rendering workers (synthetic_classifier.classifier_dataset)
        pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"), initializer=exit_with_parent)
        pool.submit(busy, out), pool.submit(busy, out)
    else:  # the members trained side by side (va_gpt.train.members.train_members)
        pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork"), initializer=exit_with_parent)
        pool.submit(busy, out), pool.submit(busy, out)
    while len(os.listdir(out)) < 2:
        time.sleep(0.05)
    os.kill(os.getpid(), signal.SIGKILL)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc to see whether a process runs")
@pytest.mark.parametrize("kind", ["spawn", "fork"])
def test_workers_of_a_killed_job_exit(kind, tmp_path):
    script, out = tmp_path / "job.py", tmp_path / "pids"
    script.write_text(JOB)
    out.mkdir()
    # the workers inherit the job's stdout and stderr: files, so no pipe waits for them
    with open(tmp_path / "job.log", "w") as log:
        job = subprocess.run(
            [sys.executable, str(script), kind, str(out)], stdout=log, stderr=log, timeout=60
        )
    assert job.returncode == -signal.SIGKILL, (tmp_path / "job.log").read_text()
    pids = [int(p) for p in os.listdir(out)]
    assert len(pids) == 2, pids
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [p for p in pids if _alive(p)]
    for p in left:  # do not leave them to the rest of the suite
        os.kill(p, signal.SIGKILL)
    assert not left, f"workers {left} outlived their killed job"


def test_a_worker_whose_job_lives_keeps_running():
    # the watcher of a process whose parent (this test) lives does not end it
    code = "import time; from va_gpt.train.workers import exit_with_parent as e; e(0.05); time.sleep(1); print('done')"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (run.returncode, run.stdout.strip()) == (0, "done"), run.stderr


def test_poll_interval_must_be_positive():
    with pytest.raises(ValueError, match="poll_s"):
        exit_with_parent(poll_s=0)
