"""`make faults`: the fault corpus (tests/faults.py) through the real nightly, then two crashes.

    python jobs/faults.py --work work/faults [--keep]

1. corpus: every fault kind written into an embedded SeaweedFS store, `vagpt nightly --local`
   over it; each kind must end as its status, each bad name reported with why.
2. storage kill: the store is stopped while the nightly runs: the storage circuit breaker
   (--max-storage-failures, default 5) must stop it with exit 3, committing nothing; the store is
   restarted and the nightly rerun.
3. process kill: the nightly process is SIGKILLed mid-run, then rerun.
After each scenario the committed `videos` rows are counted per object: `lost` is an object
with no row, `dup` one with more than one (the goal: 0 and 0 everywhere). Prints one table;
exit 1 when any kind is off. A `forbidden` row comes from a second nightly whose credentials
the store refuses (HTTP 403): it must fail with one clear line, not retry forever.
Too slow for `make test` (a minute or two); tests/test_faults.py is the fast version.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STORE_DOWN_S = 240  # a safety net only: the breaker stops the run with a dead store long before
sys.path.insert(0, str(ROOT))  # `tests.faults`, the corpus generator, lives with the tests

from tests.faults import PATTERN, write_corpus  # noqa: E402
from va_gpt.io.objectstore import ObjectStore  # noqa: E402
from va_gpt.lake.query import query  # noqa: E402


def nightly_cmd(archive: str, results: str) -> list[str]:
    cmd = [sys.executable, "-u", "-m", "va_gpt.cli", "nightly", "--archive", archive, "--results", results]
    cmd += ["--pattern", PATTERN, "--preset", "tiny", "--local", "--no-describe"]
    helptext = subprocess.run(cmd[:5] + ["--help"], capture_output=True, text=True, cwd=ROOT).stdout
    if "--allow-random-weights" in helptext:
        cmd.append("--allow-random-weights")
    return cmd


def run(
    cmd: list[str], env: dict, kill_after: str | None = None, on_line=None, timeout: float = 600
) -> tuple[int, str]:
    """Run `cmd`; when a stderr/stdout line contains `kill_after`, call `on_line(proc)`. (rc, output)"""
    proc = subprocess.Popen(
        cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    out = []
    fired = False
    t0 = time.monotonic()
    for line in proc.stdout:
        out.append(line)
        if kill_after and not fired and kill_after in line:
            fired = True
            on_line(proc)
        if time.monotonic() - t0 > timeout:
            proc.kill()
    return proc.wait(), "".join(out)


def rows_by_key(results: str, archive: str, so: dict) -> dict[str, list[str]]:
    """archive key -> statuses of its committed videos rows."""
    try:
        table = query(results, "SELECT uri, status FROM videos", so)
    except Exception as e:  # noqa: BLE001 - a results root a killed run never committed to has no table
        print(f"  (no videos rows: {type(e).__name__}: {str(e)[:120]})")
        return {}
    prefix = archive.rstrip("/") + "/"
    out: dict[str, list[str]] = {}
    for row in table.to_pylist():
        out.setdefault(row["uri"][len(prefix) :], []).append(row["status"])
    return out


def score(faults: dict, rows: dict[str, list[str]]) -> dict[str, tuple[str, int, int, bool]]:
    """kind -> (status seen, lost, duplicated, as expected)."""
    out = {}
    for kind, f in faults.items():
        got = rows.get(f.key, [])
        if f.status == "skipped":
            out[kind] = ("skipped" if not got else got[0], 0, max(0, len(got)), not got)
            continue
        status = got[0] if got else "-"
        out[kind] = (status, int(not got), max(0, len(got) - 1), len(got) == 1 and status == f.status)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="faults", description=__doc__.split("\n\n")[0])
    p.add_argument("--work", default="work/faults", help="scratch folder (default: work/faults)")
    p.add_argument("--keep", action="store_true", help="keep the store's data and the corpus afterwards")
    args = p.parse_args(argv)
    work = Path(args.work).resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    faults = write_corpus(work / "corpus")
    store = ObjectStore(work / "seaweedfs")
    endpoint = store.start()
    env = {**os.environ, **endpoint.env(), "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    so = endpoint.storage_options()
    archive = endpoint.url("archive")
    endpoint.filesystem().put(str(work / "corpus") + "/", archive + "/", recursive=True)
    tables: dict[str, dict] = {}
    notes: list[str] = []
    try:
        # 1. the corpus, one clean run
        results = endpoint.url("results-corpus")
        rc, out = run(nightly_cmd(archive, results), env)
        notes.append(f"corpus run: exit {rc}; " + (out.strip().splitlines() or ["(no output)"])[-1][:200])
        tables["corpus"] = score(faults, rows_by_key(results, archive, so))
        reported = sum(f.key in out for f in faults.values() if f.status == "skipped")
        notes.append(
            f"bad names reported in the summary: {reported} of {sum(f.status == 'skipped' for f in faults.values())}"
        )

        # 2. storage killed mid-run, restarted, rerun
        results = endpoint.url("results-storage-kill")
        t_kill = time.monotonic()
        rc, out = run(
            nightly_cmd(archive, results),
            env,
            "objects to process",
            lambda proc: store.stop(),
            timeout=STORE_DOWN_S,
        )
        gave_up = (
            f"gave up after {time.monotonic() - t_kill:.0f} s"
            if rc != -9
            else f"still retrying at {STORE_DOWN_S} s, killed"
        )
        breaker_ok = rc == 3 and "storage unreachable" in out and "Traceback" not in out
        said = [line for line in out.splitlines() if "error:" in line] or out.strip().splitlines() or [""]
        notes.append(f"storage kill: first run exit {rc} ({gave_up}); " + said[-1][:160])
        endpoint = store.start()
        breaker_ok = breaker_ok and not rows_by_key(results, archive, so)  # it committed nothing
        rc, out = run(nightly_cmd(archive, results), env)
        notes.append(f"storage kill: rerun exit {rc}")
        tables["storage-kill"] = score(faults, rows_by_key(results, archive, so))

        # 3. nightly process killed mid-run, rerun
        results = endpoint.url("results-process-kill")

        def kill(proc):
            time.sleep(1.0)
            proc.send_signal(signal.SIGKILL)

        rc, _ = run(nightly_cmd(archive, results), env, "objects to process", kill)
        notes.append(f"process kill: first run exit {rc} (SIGKILL)")
        rc, out = run(nightly_cmd(archive, results), env)
        notes.append(f"process kill: rerun exit {rc}")
        tables["process-kill"] = score(faults, rows_by_key(results, archive, so))

        # forbidden: credentials the store refuses -> one clear error, no retries forever
        bad_env = {**env, "AWS_SECRET_ACCESS_KEY": "not-the-secret"}
        rc, out = run(nightly_cmd(archive, endpoint.url("results-forbidden")), bad_env, timeout=120)
        line = (out.strip().splitlines() or [""])[-1]
        forbidden_ok = rc != 0 and "Traceback" not in out and ("403" in out or "denied" in out.lower())
        notes.append(f"forbidden credentials: exit {rc}: {line[:200]}")
    finally:
        store.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    bad = 0
    print(f"\n{'kind':<20} {'expected':<18}" + "".join(f" {s:<30}" for s in tables))
    for kind, f in faults.items():
        cells = []
        for t in tables.values():
            status, lost, dup, good = t[kind]
            bad += not good
            cells.append(f" {status:<16} lost {lost} dup {dup}{'' if good else ' !!'}")
        print(f"{kind:<20} {f.status:<18}" + "".join(f"{c:<31}" for c in cells))
    totals = {
        name: (sum(v[1] for v in t.values()), sum(v[2] for v in t.values())) for name, t in tables.items()
    }
    print("\n" + "; ".join(f"{n}: {lost} lost, {dup} duplicated" for n, (lost, dup) in totals.items()))
    print(f"forbidden (HTTP 403): {'one clear error, exit != 0' if forbidden_ok else 'NOT as expected'}")
    breaker = "the breaker stopped it, exit 3, nothing committed" if breaker_ok else "NOT as expected"
    print(f"store down mid-run: {breaker}")
    print("\n".join(notes))
    return 1 if bad or not forbidden_ok or not breaker_ok else 0


if __name__ == "__main__":
    sys.exit(main())
