"""A results folder written under an older SCHEMA_VERSION takes the newer nullable columns on the
next write (va_gpt.lake.delta.add_new_columns): older rows read them as null."""

from __future__ import annotations

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from schemas.tables import INTERVALS, conform
from va_gpt.lake.delta import replace_rows, table_url

NEW = ("peak_s", "keyframe_uri", "preview_uri")  # SCHEMA_VERSION 4


def test_an_old_intervals_table_gets_the_new_columns(tmp_path):
    root = str(tmp_path)
    old = pa.schema([f for f in INTERVALS if f.name not in NEW])
    url = table_url(root, "intervals")
    DeltaTable.create(url, old, partition_by=["date", "camera_id"])
    row = dict(video_id="v", interval_id=0, camera_id="c", date="2026-01-01", start_s=1.0, end_s=2.0,
               peak_score=0.9, mean_score=0.5, run_id="r1")  # fmt: skip
    write_deltalake(url, pa.Table.from_pylist([row], old), mode="append", partition_by=["date", "camera_id"])
    new = dict(row, video_id="w", run_id="r2", peak_s=1.5, keyframe_uri="k.jpg", preview_uri="p.jpg")
    replace_rows(root, "intervals", conform("intervals", [new]), "video_id", ["w"])
    rows = {r["video_id"]: r for r in DeltaTable(url).to_pyarrow_table().to_pylist()}
    assert [rows["w"][k] for k in NEW] == [1.5, "k.jpg", "p.jpg"]
    assert [rows["v"][k] for k in NEW] == [None, None, None]
