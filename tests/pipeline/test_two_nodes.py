"""The nightly on a real two-node Ray cluster (two `ray start` nodes on loopback, one CPU each):
`vagpt nightly --ray-address` writes the same rows as the local run.

Each node has its own temp dir under /tmp (Ray's socket paths must stay short) and its own
ports; teardown ends only the processes whose command line names those dirs (never `ray stop`,
which would end every Ray on the machine).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import psutil
import pytest

from schemas.tables import TABLES
from tests.pipeline.rayprocs import end_processes_of, names_dir
from tests.pipeline.test_stream import assert_same_rows, nightly, table_rows
from va_gpt.io.objectstore import free_port

pytestmark = [pytest.mark.timeout(420), pytest.mark.slow]  # about 70 s on 2 CPUs

RAY = os.path.join(os.path.dirname(sys.executable), "ray")
VAGPT = os.path.join(os.path.dirname(sys.executable), "vagpt")
WORKER_NODE = os.path.join(os.path.dirname(__file__), "ray_worker_node.py")  # `ray start` kept on loopback
ENV = {
    **os.environ,
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # bind to 127.0.0.1 only
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",
    "TOKENIZERS_PARALLELISM": "false",
}


def _ports() -> list[str]:
    """Ports Ray would otherwise take from fixed defaults (52365, 10001...) that another Ray may hold.
    Drawn by the object store's `free_port`: distinct (kernel-picked port-0 ports once gave the
    metrics export and the object manager the same port) and outside the ephemeral range."""
    return [
        f"--dashboard-agent-listen-port={free_port()}",
        f"--dashboard-agent-grpc-port={free_port()}",
        f"--runtime-env-agent-port={free_port()}",
        f"--metrics-export-port={free_port()}",
        f"--node-manager-port={free_port()}",
        f"--object-manager-port={free_port()}",
    ]


@pytest.fixture
def two_nodes():
    head_dir = tempfile.mkdtemp(prefix="v2h", dir="/tmp")
    node_dir = tempfile.mkdtemp(prefix="v2n", dir="/tmp")
    port = free_port()
    address = f"127.0.0.1:{port}"
    common = ["--node-ip-address=127.0.0.1", "--num-cpus=1", "--disable-usage-stats"]
    try:
        subprocess.run(
            [RAY, "start", "--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={head_dir}",
             *common, *_ports()],
            env=ENV, check=True, timeout=120,
        )  # fmt: skip
        subprocess.run(
            [sys.executable, WORKER_NODE, "start", f"--address={address}", f"--temp-dir={node_dir}", '--resources={"node2": 1}',
             *common, *_ports()],
            env=ENV, check=True, timeout=120,
        )  # fmt: skip
        yield address, [head_dir, node_dir]
    finally:
        end_processes_of([head_dir, node_dir])
        shutil.rmtree(head_dir, ignore_errors=True)
        shutil.rmtree(node_dir, ignore_errors=True)


def _alive_nodes(address: str) -> list[dict]:
    code = (
        f"import json, ray; ray.init(address={address!r}, logging_level='ERROR');"
        "print(json.dumps([n['Resources'] for n in ray.nodes() if n['Alive']]))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _listen_addresses(dirs: list[str]) -> set[str]:
    out = set()
    for p in psutil.process_iter():
        if p.pid == os.getpid() or not names_dir(p, dirs):
            continue
        try:
            out |= {c.laddr.ip for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN}
        except psutil.Error:
            pass
    return out


def test_nightly_on_a_two_node_cluster_writes_the_local_rows(two_nodes, tiny_archive, tmp_path):
    address, dirs = two_nodes
    nodes = []
    deadline = time.monotonic() + 60
    while len(nodes) < 2 and time.monotonic() < deadline:
        nodes = _alive_nodes(address)
    assert len(nodes) == 2 and any("node2" in n for n in nodes)
    # Both nodes listen on loopback only.
    assert _listen_addresses(dirs) and _listen_addresses(dirs) <= {"127.0.0.1", "::ffff:127.0.0.1"}
    local, remote = str(tmp_path / "local"), str(tmp_path / "cluster")
    nightly(tiny_archive, local, local=True, describe=True)
    run = subprocess.run(
        [VAGPT, "nightly", "--archive", tiny_archive, "--results", remote, "--preset", "tiny",
         "--ray-address", address, "--allow-random-weights"],
        env=ENV, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    want, got = table_rows(local), table_rows(remote)
    assert len(want["videos"]) == 4 and want["frame_scores"]
    for name in TABLES:
        assert_same_rows(got[name], want[name], name)
