#!/usr/bin/env bash
# Installs and builds what is missing, then serves the page on localhost.
# Usage: scripts/serve.sh [PORT]   (default 8000)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh"
cd "$root"
exec node web/serve.mjs --port "${1:-${PORT:-8000}}" --core-dir build-wasm/web
