#!/usr/bin/env bash
# One command from a fresh Debian or Ubuntu machine to a running janc:
# installs the missing packages, builds, and starts the server on the
# default data folder ($JAN_DATA_FOLDER, else ~/jan) at http://127.0.0.1:3000.
set -euo pipefail
cd "$(dirname "$0")"
scripts/deps.sh
scripts/build.sh
exec build/janc serve "$@"
