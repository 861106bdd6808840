"""Bad input to `vagpt` is one line `vagpt <cmd>: error: <message>` and exit 1/2, before any work
starts, never a traceback (unless --debug or VAGPT_DEBUG=1 asks for it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from va_gpt.cli import main

ROOT = Path(__file__).resolve().parents[1]
AWS_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "AWS_PROFILE")


@pytest.fixture
def no_aws(monkeypatch, tmp_path):
    for var in (*AWS_VARS, "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_SHARED_CREDENTIALS_FILE", "VAGPT_DEBUG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.aws/credentials


def _error(capsys, status: int, argv: list[str]) -> str:
    assert main(argv) == status
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith(f"vagpt {argv[0]}: error: "), err
    return err


@pytest.mark.timeout(60)
def test_query_without_credentials_names_the_variables(no_aws, capsys):
    err = _error(capsys, 1, ["query", "SELECT 1", "--results", "s3://vagpt/results"])
    assert all(v in err for v in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"))


@pytest.mark.timeout(60)
def test_query_missing_sql_file_and_a_results_root_without_tables(no_aws, tmp_path, capsys):
    err = _error(capsys, 2, ["query", f"@{tmp_path}/missing.sql", "--results", str(tmp_path)])
    assert "missing.sql" in err
    typo = tmp_path / "resluts"
    err = _error(capsys, 1, ["query", "SELECT count(*) FROM videos", "--results", str(typo)])
    assert str(typo) in err and "no tables" in err


@pytest.mark.timeout(60)
def test_train_classifier_unknown_preset(no_aws, tmp_path, capsys):
    err = _error(capsys, 2, ["train-classifier", "--preset", "nope", "--out", str(tmp_path / "clf")])
    assert "nope" in err and "preset" in err
    assert not (tmp_path / "clf").exists()


@pytest.mark.timeout(60)
def test_train_classifier_event_start_outside_the_video(no_aws, tmp_path, capsys):
    out = tmp_path / "clf"
    argv = ["train-classifier", "--preset", "tiny", "--out", str(out), "--train-videos", "2", "--event-start"]
    err = _error(capsys, 2, [*argv, "0.5", "1.5"])
    assert "event_start must be fractions 0 <= lo <= hi < 1, got (0.5, 1.5)" in err
    err = _error(capsys, 2, [*argv, "0.6", "0.2"])
    assert "got (0.6, 0.2)" in err
    assert not out.exists()


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "option, message",
    [
        (["--patch-dropout", "1.0"], "patch_dropout must be in [0, 1) (0: off), got 1.0"),
        (["--focal-gamma", "-1"], "focal_gamma must be >= 0 (0: plain cross-entropy), got -1.0"),
        (["--mil", "--focal-gamma", "2"], "focal_gamma needs frame labels"),
    ],
)
def test_train_classifier_bad_training_option_is_refused_before_rendering(
    no_aws, tmp_path, capsys, option, message
):
    out = tmp_path / "clf"
    argv = ["train-classifier", "--preset", "tiny", "--out", str(out), "--train-videos", "2"]
    assert message in _error(capsys, 2, [*argv, *option])
    assert not out.exists()


@pytest.mark.timeout(60)
def test_nightly_wrong_checkpoint_fails_before_listing(no_aws, tmp_path, capsys):
    archive = tmp_path / "no-archive-either"  # a listing would fail on this: the checkpoint is checked first
    err = _error(
        capsys,
        1,
        [
            "nightly",
            "--archive",
            str(archive),
            "--results",
            str(tmp_path / "r"),
            "--checkpoint",
            "/wrong",
            "--local",
        ],
    )
    assert "/wrong" in err and "checkpoint" in err.lower() and str(archive) not in err
    assert not (tmp_path / "r").exists()


@pytest.mark.timeout(60)
def test_our_validation_errors_are_usage_errors(no_aws, tmp_path, capsys):
    (tmp_path / "a").mkdir()
    err = _error(
        capsys,
        2,
        [
            "nightly",
            "--archive",
            str(tmp_path / "a"),
            "--results",
            str(tmp_path / "r"),
            "--pattern",
            "{name}.mp4",
            "--local",
            "--allow-random-weights",
        ],
    )
    assert "camera_id" in err


@pytest.mark.timeout(60)
def test_nightly_refuses_random_weights_unless_allowed(no_aws, tmp_path, capsys):
    """Without a trained classifier and VA-GPT the results mean nothing: a usage error, nothing written."""
    (tmp_path / "a").mkdir()
    base = ["nightly", "--archive", str(tmp_path / "a"), "--results", str(tmp_path / "r"), "--local"]
    err = _error(capsys, 2, base)
    assert "random weights" in err and "--allow-random-weights" in err and "--classifier" in err
    err = _error(capsys, 2, [*base, "--classifier", str(tmp_path / "clf")])
    assert "random VA-GPT" in err and "--no-describe" in err
    assert not (tmp_path / "r").exists()


@pytest.mark.timeout(60)
def test_a_classifier_folder_without_weights_or_with_broken_ones(no_aws, tmp_path, capsys):
    """`--classifier` naming a folder that is not a classifier: one line naming the folder or the
    file, for `vagpt eval` as for `vagpt nightly`, and the nightly writes no results."""
    results, truth = tmp_path / "r", tmp_path / "truth.txt"
    truth.write_text("v.mp4 Normal -1 -1 -1 -1\n")
    err = _error(
        capsys, 1,
        ["eval", "--results", str(results), "--annotations", str(truth), "--classifier", str(tmp_path / "nope")],
    )  # fmt: skip
    assert str(tmp_path / "nope") in err and "config.json" in err
    clf = tmp_path / "clf"
    clf.mkdir()
    (clf / "config.json").write_text("{}")
    (tmp_path / "a").mkdir()
    nightly = [
        "nightly",
        "--archive",
        str(tmp_path / "a"),
        "--results",
        str(results),
        "--local",
        "--no-describe",
    ]
    err = _error(capsys, 1, [*nightly, "--classifier", str(clf)])
    assert "model.safetensors" in err and "missing" in err
    (clf / "model.safetensors").write_bytes(b"\x00" * 64)
    err = _error(capsys, 1, [*nightly, "--classifier", str(clf)])
    assert f"{clf}/model.safetensors: not a readable safetensors file" in err
    assert not results.exists()


@pytest.mark.timeout(60)
def test_train_usage_errors_say_which_command(no_aws, tmp_path, capsys):
    """`vagpt train` says its own usage errors in the same one-line form as the others."""
    err = _error(capsys, 2, ["train", "--preset", "tiny"])
    assert "--records and --out are required" in err
    err = _error(capsys, 2, ["train", "--demo", "--work", str(tmp_path)])
    assert "--demo needs --classifier" in err
    assert not any(tmp_path.iterdir())


@pytest.mark.timeout(120)
def test_a_real_process_prints_no_traceback_unless_debug(tmp_path):
    argv = [
        sys.executable,
        "-m",
        "va_gpt.cli",
        "nightly",
        "--archive",
        str(tmp_path),
        "--results",
        str(tmp_path / "r"),
    ]
    argv += ["--checkpoint", "/wrong", "--local"]
    env = {k: v for k, v in os.environ.items() if k != "VAGPT_DEBUG"}
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=100)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "vagpt nightly: error:" in done.stderr and "/wrong" in done.stderr
    debug = subprocess.run(argv + ["--debug"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=100)
    assert debug.returncode != 0 and "Traceback" in debug.stderr and "CheckpointError" in debug.stderr
