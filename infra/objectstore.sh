#!/usr/bin/env bash
# Start / stop / check the embedded SeaweedFS S3 store used by `make run`.
# usage: infra/objectstore.sh start|stop|status [DATA_DIR]   (default: work/objectstore)
# The flags (127.0.0.1 only, -master.telemetry=false, access keys) live in va_gpt/io/objectstore.py.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/vagpt store "${1:?start|stop|status}" "${2:-work/objectstore}"
