#!/usr/bin/env bash
# e2e_web_embed.sh — proves the page compiled into janc is the page in web/:
# src/server/web_assets.c must be exactly what scripts/embed_web.py makes
# from web/ today (fails when someone edits web/ and forgets to regenerate).
set -euo pipefail
src=${JANC_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
command -v python3 >/dev/null || { echo "SKIP: python3 not found"; exit 77; }
python3 "$src/scripts/embed_web.py" --check
