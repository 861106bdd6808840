#!/usr/bin/env bash
# Headless Chromium for the report's browser test (tests/report/test_browser.py).
# Idempotent: does nothing when a chromium is already on PATH. Debian/Ubuntu via apt-get
# (Debian's `chromium` package; no browser download by a test tool). Needs root or sudo.
# Usage: infra/install_chromium.sh        prints the chromium path on success
set -euo pipefail

find_chromium() {
  for name in chromium chromium-browser google-chrome google-chrome-stable; do
    if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
  done
  return 1
}

if path=$(find_chromium); then
  echo "$path"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_chromium.sh: no apt-get here; install Chromium with this system's package manager" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "install_chromium.sh: need root (or passwordless sudo) to apt-get install chromium" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# Debian names it chromium; older Ubuntu chromium-browser (a snap shim on newer ones).
$SUDO apt-get install -y -q --no-install-recommends chromium || \
  $SUDO apt-get install -y -q --no-install-recommends chromium-browser
path=$(find_chromium) || { echo "install_chromium.sh: installed, but no chromium on PATH" >&2; exit 1; }
"$path" --version >&2 || true
echo "$path"
