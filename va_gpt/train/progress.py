"""Progress lines of a long training loop, at most one every few minutes.

Why: a classifier member of the demo recipe trains for half an hour or more on a 2-core machine,
and `make models` or `vagpt train-classifier` said nothing from the last rendered video to the
end; an operator could not tell a slow build from a stuck one. The lines go to the module's
logger (INFO), so a forked member process writes them to the parent's stderr.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)


class Progress:
    """`tick(step, loss)` after every step of a `steps`-step loop named `what`; logs the step, the
    loss, the minutes so far and the estimated minutes left when `every_s` seconds have passed
    since the last line, and always after the last step. every_s <= 0: a line every step."""

    def __init__(self, what: str, steps: int, every_s: float = 300.0, clock=time.monotonic):
        self.what, self.steps, self.every_s, self.clock = what, steps, every_s, clock
        self.t0 = self.last = clock()

    def tick(self, step: int, loss) -> None:  # loss: a float or a detached 0-d tensor, read when logged
        now = self.clock()
        done = step + 1
        if now - self.last < self.every_s and done < self.steps:
            return
        self.last = now
        spent = now - self.t0
        left = spent / done * (self.steps - done)
        log.info(
            "%s: step %d of %d, loss %.4f, %.1f min so far, about %.1f min left",
            self.what, done, self.steps, float(loss), spent / 60, left / 60,
        )  # fmt: skip
