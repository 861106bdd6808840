import pyarrow as pa
import pyarrow.parquet as pq
import pytest


@pytest.mark.timeout(60)
def test_roundtrip_bytes_and_parquet(s3_store):
    fs = s3_store.filesystem()
    url = s3_store.url("test_objectstore/hello.bin")
    payload = bytes(range(256)) * 1000
    fs.pipe(url, payload)
    assert fs.cat(url) == payload
    # pyarrow through fsspec: the writer path that corrupts objects on anonymous SeaweedFS.
    table = pa.table({"x": list(range(1000)), "s": [str(i) for i in range(1000)]})
    pq_url = s3_store.url("test_objectstore/t.parquet")
    with fs.open(pq_url, "wb") as f:
        pq.write_table(table, f)
    with fs.open(pq_url, "rb") as f:
        assert pq.read_table(f).equals(table)


@pytest.mark.timeout(60)
def test_anonymous_access_is_refused(s3_store):
    import s3fs

    anon = s3fs.S3FileSystem(anon=True, client_kwargs={"endpoint_url": s3_store.endpoint_url})
    with pytest.raises(PermissionError):
        anon.ls(s3_store.bucket)


@pytest.mark.timeout(60)
def test_server_binds_loopback_only(s3_store):
    assert s3_store.endpoint_url.startswith("http://127.0.0.1:")
