"""The Kubernetes manifests parse and run the job's real entry point with real arguments."""

import json
import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml

from va_gpt.cli import build_parser

INFRA = Path(__file__).resolve().parents[1] / "infra"


def _load(name):
    return list(yaml.safe_load_all((INFRA / "k8s" / name).read_text()))


@pytest.mark.timeout(30)
def test_rayjob_entrypoint_is_the_nightly_job_with_valid_arguments():
    (job,) = _load("rayjob-nightly.yaml")
    assert job["kind"] == "RayJob" and job["apiVersion"] == "ray.io/v1"
    argv = shlex.split(job["spec"]["entrypoint"])
    assert argv[:2] == ["python", "jobs/nightly.py"]
    assert (Path(__file__).resolve().parents[1] / argv[1]).exists()
    args = build_parser().parse_args(["nightly", *argv[2:]])  # the real argument parser accepts them
    assert args.archive.startswith("s3://") and args.results.startswith("s3://")
    assert args.ray_address == "auto"
    groups = {g["groupName"]: g for g in job["spec"]["rayClusterSpec"]["workerGroupSpecs"]}
    assert set(groups) == {"cpu-decode", "gpu"}
    gpu = groups["gpu"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert gpu["nvidia.com/gpu"] == "1"


@pytest.mark.timeout(30)
def test_credentials_come_from_a_secret_in_every_pod():
    (job,) = _load("rayjob-nightly.yaml")
    (cluster,) = _load("raycluster.yaml")
    (secret,) = _load("secret-object-store.example.yaml")
    name = secret["metadata"]["name"]
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(secret["stringData"])
    for spec in (job["spec"]["rayClusterSpec"], cluster["spec"]):
        pods = [spec["headGroupSpec"]] + spec["workerGroupSpecs"]
        for pod in pods:
            for c in pod["template"]["spec"]["containers"]:
                assert {"secretRef": {"name": name}} in c["envFrom"], pod.get("groupName", "head")


@pytest.mark.timeout(30)
def test_cronjob_submits_the_rayjob_manifest_nightly():
    (cron,) = _load("cronjob-nightly.yaml")
    assert cron["kind"] == "CronJob"
    fields = cron["spec"]["schedule"].split()
    assert len(fields) == 5 and fields[2:] == ["*", "*", "*"]  # once a day
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    script = " ".join(cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"])
    assert "rayjob-nightly.yaml" in script and "kubectl apply" in script


@pytest.mark.timeout(30)
def test_deepspeed_configs_parse():
    for name in ("zero2.json", "zero3.json"):
        cfg = json.loads((INFRA / "deepspeed" / name).read_text())
        assert cfg["zero_optimization"]["stage"] in (2, 3)


def _dockerfile() -> str:
    return (INFRA / "docker" / "Dockerfile").read_text()


def _pyproject() -> dict:
    return tomllib.loads((INFRA.parent / "pyproject.toml").read_text())


def _pin(name: str) -> str:
    (dep,) = [d for d in _pyproject()["project"]["dependencies"] if re.match(rf"{re.escape(name)}(\[|=)", d)]
    return dep.split("==")[1]


@pytest.mark.timeout(30)
def test_ray_pods_run_the_image_the_dockerfile_builds():
    """Static checks (no docker engine here): the manifests name the Dockerfile's image at the
    package's version (the -cuda build for the GPU group), and the cluster's Ray is the pinned one."""
    labels = dict(re.findall(r'org\.opencontainers\.image\.(\w+)="([^"]+)"', _dockerfile()))
    version = _pyproject()["project"]["version"]
    assert labels["version"] == version
    image = f"{labels['title']}:{version}"
    (job,) = _load("rayjob-nightly.yaml")
    (cluster,) = _load("raycluster.yaml")
    for spec in (job["spec"]["rayClusterSpec"], cluster["spec"]):
        assert spec["rayVersion"] == _pin("ray")
        for pod in [spec["headGroupSpec"], *spec["workerGroupSpecs"]]:
            want = image + "-cuda" if pod.get("groupName") == "gpu" else image
            for c in pod["template"]["spec"]["containers"]:
                assert c["image"] == want, (pod.get("groupName", "head"), c["image"])


@pytest.mark.timeout(30)
def test_dockerfile_installs_the_package_without_extras_on_a_cpu_torch():
    text = _dockerfile()
    run = " ".join(re.findall(r"^RUN (.+?)(?<!\\)$", text.replace("\\\n", " "), re.M))
    assert re.search(r"^ARG BASE=python:3\.11-slim$", text, re.M) and "FROM ${BASE}" in text
    assert re.search(r"^ARG TORCH_INDEX=https://download\.pytorch\.org/whl/cpu$", text, re.M)
    torch = re.search(r'pip install --index-url "\$\{TORCH_INDEX\}" "torch==([\d.]+)"', run)
    assert torch and torch.group(1) == _pin("torch")
    install = re.search(r"pip install (\S+)", run[torch.end() :])
    assert install and install.group(1) == "."  # the package itself, no [train]/[eval]/[dev]
    assert run.index("torch==") < run.index("pip install .")  # torch first: `.` finds it satisfied
    copied = set(re.findall(r"^COPY (.+) \./?\S*$", text, re.M))
    sources = {w for line in copied for w in line.split()}
    for pkg in _pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]:
        assert pkg.rstrip("*") in sources, pkg
    assert {"pyproject.toml", "README.md"} <= sources
    # The RayJob's entry point is in the image, where its working_dir says.
    (job,) = _load("rayjob-nightly.yaml")
    assert "WORKDIR /app" in text and "working_dir: /app" in job["spec"]["runtimeEnvYAML"]
    assert shlex.split(job["spec"]["entrypoint"])[1].split("/")[0] in sources


@pytest.mark.timeout(30)
def test_delta_settings_reach_every_pod():
    (secret,) = _load("secret-object-store.example.yaml")
    env = secret["stringData"]
    # A non-AWS S3 store needs the conditional put Delta commits rely on; delta-rs reads AWS_REGION.
    assert env["AWS_CONDITIONAL_PUT"] == "etag" and env["AWS_ENDPOINT_URL"].startswith("https://")
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"]
    (job,) = _load("rayjob-nightly.yaml")
    args = build_parser().parse_args(["nightly", *shlex.split(job["spec"]["entrypoint"])[2:]])
    assert args.vacuum_hours and args.vacuum_hours >= 24  # time travel kept a day at least
