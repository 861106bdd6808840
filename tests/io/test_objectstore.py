import os
import stat
import urllib.error
import urllib.request

import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import s3fs

from va_gpt.io import objectstore
from va_gpt.io.objectstore import ObjectStore


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
    anon = s3fs.S3FileSystem(anon=True, client_kwargs={"endpoint_url": s3_store.endpoint_url})
    with pytest.raises(PermissionError):
        anon.ls(s3_store.bucket)


@pytest.mark.timeout(60)
def test_server_binds_loopback_only(s3_store):
    assert s3_store.endpoint_url.startswith("http://127.0.0.1:")


# --- issue 15 item 12: what else the SeaweedFS store exposes ------------------------------------------


def _http(port: int, path: str, data: bytes | None = None) -> int | str:
    """Status code of a plain, unauthenticated HTTP request; the error name when the port does not speak HTTP/1."""
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, method="POST" if data else "GET"
    )
    try:
        with urllib.request.urlopen(req, timeout=3) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError as e:
        return type(e).__name__


def _listening(pid: int) -> set[tuple[str, int]]:
    procs = [psutil.Process(pid)]
    procs += procs[0].children(recursive=True)
    return {
        (c.laddr.ip, c.laddr.port) for p in procs for c in p.net_connections("inet") if c.status == "LISTEN"
    }


def test_store_ports_stay_out_of_the_ephemeral_range(tmp_path):
    """weed binds a store's ports seconds after they are drawn. From the ephemeral range, an outgoing
    connection could take one as its local port meanwhile: weed then exits (HTTP ports) or listens on
    the next free port instead (gRPC ports), outside the configured set."""
    ephemeral = objectstore._ephemeral_ports()
    drawn = []
    for i in range(20):
        store = ObjectStore(tmp_path / str(i))
        p = store.ports
        ports = [store.s3_port, *p.values(), p["admin"] + objectstore._ADMIN_GRPC_OFFSET]
        assert not [port for port in ports if port in ephemeral], (ports, ephemeral)
        drawn += ports
    # No two stores of one process share a port, nor a port with another's admin gRPC port.
    assert len(drawn) == len(set(drawn))


@pytest.mark.timeout(180)
def test_two_stores_side_by_side_expose_only_s3(tmp_path):
    a, b = ObjectStore(tmp_path / "a"), ObjectStore(tmp_path / "b")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "s3.json").write_text("{}")
    os.chmod(tmp_path / "a" / "s3.json", 0o644)  # a leftover world-readable file gets tightened
    with a as ea, b as eb:
        for store, ep in ((a, ea), (b, eb)):
            fs = ep.filesystem()
            fs.pipe(ep.url("side/x.bin"), store.data_dir.name.encode())
        assert ea.filesystem().cat(ea.url("side/x.bin")) == b"a"
        assert eb.filesystem().cat(eb.url("side/x.bin")) == b"b"

        for store in (a, b):
            for name in ("s3.json", "security.toml"):
                mode = stat.S_IMODE(os.stat(store.data_dir / name).st_mode)
                assert mode == 0o600, f"{name} is {oct(mode)}"

            listening = _listening(store.proc.pid)
            assert {ip for ip, _ in listening} == {"127.0.0.1"}, listening
            ports = {port for _, port in listening}
            p = store.ports
            # Nothing but what `command` asks for (plus admin gRPC at admin + 10000):
            # no Iceberg (8181), Lance (9101), WebDAV, admin UI, metrics or debug port.
            assert ports <= {store.s3_port, *p.values(), p["admin"] + 10000}, ports
            assert not ports & {8181, 9101, 7333, 23646, 6060}

            # S3 itself: anonymous requests refused.
            assert _http(store.s3_port, f"/{store.bucket}/side/x.bin") == 403
            # Filer and volume HTTP: no object reads, listings or writes without the JWT.
            for path in (f"/buckets/{store.bucket}/side/x.bin", f"/buckets/{store.bucket}/", "/"):
                assert _http(p["filer"], path) == 401
            assert _http(p["filer"], f"/buckets/{store.bucket}/evil.txt", b"x") == 401
            assert _http(p["volume"], "/1,01") == 401
            assert _http(p["volume"], "/1,01", b"x") == 401
            # gRPC ports do not speak plain HTTP.
            for name in ("master.grpc", "volume.grpc", "filer.grpc", "s3.grpc"):
                assert not isinstance(_http(p[name], "/"), int)
            # Documented leftovers (see va_gpt.io.objectstore): master and admin HTTP answer,
            # but serve no object data.
            assert _http(p["master"], f"/buckets/{store.bucket}/side/x.bin") != 200
            assert _http(p["admin"], f"/buckets/{store.bucket}/side/x.bin") == 404
