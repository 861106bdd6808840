"""Training tests: tiny models on a shared 2-core machine, one torch thread each."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_torch_thread):
    yield
