"""The report in a real browser: headless Chromium (Debian's `chromium`, infra/install_chromium.sh).

Checks what a reader sees: one card per interval, every image decoded (naturalWidth > 0),
and a screenshot that is not blank. Chromium runs offline (no network features, a fresh
profile); the page has no script of its own, so the check script is added to a copy of
the page, written next to it so its relative links resolve the same.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess

import av
import numpy as np
import pytest

from tests.report.night_fixture import DATE
from va_gpt.report.build import camera_file, write_report

pytestmark = pytest.mark.timeout(300)

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

CHECK = """<script>
window.addEventListener('load', () => {
  const imgs = Array.from(document.images);
  const r = {cards: document.querySelectorAll('article.card').length, images: imgs.length,
             broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src')),
             svgs: document.querySelectorAll('svg.timeline').length};
  const out = document.createElement('pre'); out.id = 'report-check'; out.textContent = JSON.stringify(r);
  document.body.appendChild(out);
});
</script>"""


def _chromium() -> str:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip(
        "headless Chromium not found (looked for " + ", ".join(CANDIDATES) + "): install it with "
        "infra/install_chromium.sh (Debian/Ubuntu: apt-get install chromium) to run the browser test"
    )


def _run(args: list[str], tmp_path) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(os.listdir(tmp_path))}"
    cmd = [
        _chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}", *args,
    ]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def page_check(page: str, tmp_path) -> dict:
    """Load a copy of `page` with the check script; what the script wrote into the DOM."""
    html = open(page).read().replace("</body>", CHECK + "</body>")
    copy = page[: -len(".html")] + ".check.html"
    with open(copy, "w") as f:
        f.write(html)
    try:
        r = _run(["--virtual-time-budget=10000", "--dump-dom", "file://" + copy], tmp_path)
    finally:
        os.unlink(copy)
    m = re.search(r'<pre id="report-check">(.*?)</pre>', r.stdout, re.S)
    assert m, f"chromium gave no check result (rc {r.returncode}): {r.stderr[-2000:]}"
    return json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))


def screenshot(page: str, tmp_path, size=(1200, 1400)) -> np.ndarray:
    png = tmp_path / (os.path.basename(page) + ".png")
    r = _run([f"--screenshot={png}", f"--window-size={size[0]},{size[1]}", "file://" + page], tmp_path)
    assert png.exists(), f"no screenshot (rc {r.returncode}): {r.stderr[-2000:]}"
    with av.open(io.BytesIO(png.read_bytes()), format="png_pipe") as c:
        return next(c.decode(video=0)).to_ndarray(format="rgb24")


def test_report_renders_in_chromium(local_night, tmp_path):
    _chromium()
    index = write_report(local_night.results, DATE, str(tmp_path / "site"))
    root = os.path.dirname(index)
    for cam, n in local_night.intervals_per_camera.items():
        got = page_check(os.path.join(root, camera_file(cam)), tmp_path)
        assert got["cards"] == n, (cam, got)
        assert got["broken"] == [], (cam, got)  # every image loaded: naturalWidth > 0
        assert got["svgs"] == 1
    cam01 = page_check(os.path.join(root, camera_file("cam01")), tmp_path)
    assert cam01["images"] == 4  # keyframe + contact sheet for each of its two intervals
    shot = screenshot(os.path.join(root, camera_file("cam01")), tmp_path)
    assert shot.shape[0] > 100 and shot.shape[1] > 100
    gray = shot.astype(np.float32).mean(axis=2)
    assert gray.std() > 10.0, "screenshot is blank"
    assert len(np.unique(shot.reshape(-1, 3)[::7], axis=0)) > 50  # footage, not just text on white
    index_check = page_check(index, tmp_path)
    assert index_check["cards"] == 0 and index_check["broken"] == []
    assert screenshot(index, tmp_path).astype(np.float32).std() > 5.0


def test_the_check_catches_a_broken_image(local_night, tmp_path):
    _chromium()
    index = write_report(local_night.results, DATE, str(tmp_path / "site"))
    page = os.path.join(os.path.dirname(index), camera_file("cam01"))
    key = re.search(r'src="([^"]+_key\.jpg)"', open(page).read()).group(1)
    os.unlink(os.path.join(os.path.dirname(index), key))
    assert page_check(page, tmp_path)["broken"] == [key]
