"""va_gpt.lake.manifest (a Delta table) on a real SeaweedFS server and on local disk: the same tests run on both."""

from __future__ import annotations

import pytest

from va_gpt.io.archive import ArchiveObject, list_archive
from va_gpt.lake.delta import open_table
from va_gpt.lake.manifest import Manifest


def _uris(objects: list[ArchiveObject]) -> list[str]:
    return [o.uri for o in objects]


@pytest.mark.timeout(120)
def test_manifest_diff_and_roundtrip(backend):
    backend.put("archive/cam01/2026-11-21/220000.mp4", b"one")
    backend.put("archive/cam01/2026-11-21/230000.mp4", b"two")
    root = backend.url("archive")
    manifest_url = backend.url("results")

    manifest = Manifest.load(manifest_url, backend.options)
    assert len(manifest) == 0  # a missing manifest is an empty one
    objects = list_archive(root, storage_options=backend.options)
    diff = manifest.diff(objects, "v1")
    assert diff.new == objects and diff.changed == [] and diff.unchanged == []

    manifest.record(objects, "v1", run_id="run-1")
    manifest.save()
    loaded = Manifest.load(manifest_url, backend.options)
    assert loaded.entries == manifest.entries and len(loaded) == 2
    assert loaded.get(objects[0].uri).run_id == "run-1"
    assert loaded.diff(objects, "v1").unchanged == objects

    # Changed content (new etag), a new object, and a new pipeline version.
    backend.put("archive/cam01/2026-11-21/230000.mp4", b"two, re-uploaded")
    backend.put("archive/cam02/2026-11-21/010000.mp4", b"three")
    objects = list_archive(root, storage_options=backend.options)
    diff = loaded.diff(objects, "v1")
    assert _uris(diff.unchanged) == [objects[0].uri]
    assert _uris(diff.changed) == [objects[1].uri]
    assert _uris(diff.new) == [objects[2].uri]
    assert diff.to_process == [objects[2], objects[1]]

    diff = loaded.diff(objects, "v2")
    assert _uris(diff.changed) == _uris(objects[:2]) and diff.unchanged == []

    # Recording again replaces entries by uri, it never duplicates them.
    loaded.record(objects, "v2", run_id="run-2")
    loaded.save()
    again = Manifest.load(manifest_url, backend.options)
    assert len(again) == 3 and {e.run_id for e in again.entries.values()} == {"run-2"}
    assert again.diff(objects, "v2").unchanged == objects
    # Saving the same entries again (a retried or repeated write) leaves one row per uri.
    again.record(objects, "v2", run_id="run-2", status={objects[0].video_id: "not_video"})
    again.save()
    again.save()  # nothing pending: no commit
    final = Manifest.load(manifest_url, backend.options)
    assert len(final) == 3 and final.get(objects[0].uri).status == "not_video"
    assert open_table(manifest_url, "manifest", backend.options).to_pyarrow_table().num_rows == 3
