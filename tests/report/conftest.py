"""Fixture nights for the report tests (tests/report/night_fixture.py): on a local folder and on SeaweedFS."""

from __future__ import annotations

import pytest

from tests.report.night_fixture import FixtureNight, write_night


@pytest.fixture(scope="module")
def local_night(tmp_path_factory) -> FixtureNight:
    tmp = tmp_path_factory.mktemp("report_night")
    return write_night(str(tmp / "results"), str(tmp / "archive"), tmp)


@pytest.fixture(scope="module")
def s3_night(s3_store, tmp_path_factory, request) -> FixtureNight:
    prefix = f"test_report/{request.module.__name__.rsplit('.', 1)[-1]}"
    so = s3_store.storage_options()
    return write_night(
        s3_store.url(f"{prefix}/results"),
        s3_store.url(f"{prefix}/archive"),
        tmp_path_factory.mktemp("src"),
        so,
    )
