"""The Kubernetes manifests parse and run the job's real entry point with real arguments."""

import json
import shlex
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
