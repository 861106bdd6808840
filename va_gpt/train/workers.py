"""Worker processes that do not outlive the job that started them.

The training jobs run work in pools of worker processes (the classifier's rendering workers,
va_gpt.train.synthetic_classifier; its members trained side by side, va_gpt.train.members).
When the job is killed (a SIGKILL, the OOM killer, a scheduler's time limit) those workers are
not told: each holds both ends of its task queue's pipe, so it never reads end-of-file, and it
waits for its next task forever, re-parented to init, holding its memory (seen: two rendering
workers of a killed `jobs/compare_classifiers.py`, several GB, until killed by hand).

`exit_with_parent` is a pool's worker initializer: a daemon thread notices that the process
that started the worker is gone (the worker's parent pid changes when it is re-parented) and
ends the worker. Polling, not Linux's PR_SET_PDEATHSIG: that signal fires when the parent
*thread* that started the worker exits, which a pool that starts workers from a helper thread
would trip while the job is alive.
"""

from __future__ import annotations

import os
import threading
import time

ORPHAN_EXIT_CODE = 70  # what a worker that outlived its job exits with (EX_SOFTWARE)


def exit_with_parent(poll_s: float = 0.5) -> None:
    """Call first in a worker process: it exits (os._exit, ORPHAN_EXIT_CODE) within about
    `poll_s` seconds of its parent process ending, whatever the worker is doing then."""
    if poll_s <= 0:
        raise ValueError(f"poll_s must be > 0 seconds, got {poll_s}")
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os._exit(ORPHAN_EXIT_CODE)  # no cleanup: there is no one left to hand results to

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
