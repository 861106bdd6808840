"""va_gpt.lake.manifest on a real SeaweedFS server and on local disk: the same tests run on both."""

from __future__ import annotations

import pytest

from va_gpt.io.archive import ArchiveObject, list_archive
from va_gpt.io.errors import StorageError
from va_gpt.lake.manifest import Manifest


def _uris(objects: list[ArchiveObject]) -> list[str]:
    return [o.uri for o in objects]


@pytest.mark.timeout(120)
def test_manifest_diff_and_roundtrip(backend):
    backend.put("archive/cam01/2026-11-21/220000.mp4", b"one")
    backend.put("archive/cam01/2026-11-21/230000.mp4", b"two")
    root = backend.url("archive")
    manifest_url = backend.url("state/manifest.json")

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


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b'{"format": "something-else", "entries": []}',
        b'{"format": "va-gpt-manifest", "format_version": 1, "entries": [{"uri": "x"}]}',
    ],
)
def test_corrupt_manifest_names_file(backend, content):
    url = backend.put("state/manifest.json", content)
    with pytest.raises(StorageError) as info:
        Manifest.load(url, backend.options)
    assert info.value.url == url and url in str(info.value)
    assert "corrupt manifest" in info.value.reason
