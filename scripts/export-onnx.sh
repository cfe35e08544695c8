#!/usr/bin/env bash
# Writes the ONNX graphs of the note model (models/gmvae/gmvae.tmbl) into
# build-onnx/gmvae/ for the Notes panel's batch engine (ONNX Runtime Web, served
# at /onnx/ by web/serve.mjs), with source.json: the size and CRC-32 (the file's
# last 4 bytes) of the .tmbl they hold, which the page checks against the model
# it loaded. Skipped when source.json already names this very file.
# Usage: scripts/export-onnx.sh [MODEL.tmbl] [OUT_DIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
model="${1:-models/gmvae/gmvae.tmbl}"
out="${2:-build-onnx/gmvae}"
if [ ! -f "$model" ]; then
  echo "no $model yet: nothing to export"
  exit 0
fi
name="$(basename "$model" .tmbl)"
if [ -f "$out/source.json" ] && [ -f "$out/$name.decoder.onnx" ] && /usr/bin/python3 - "$model" "$out/source.json" <<'PY'
import json, os, struct, sys
model, source = sys.argv[1:3]
with open(model, "rb") as f:
    f.seek(-4, os.SEEK_END)
    crc = struct.unpack("<I", f.read(4))[0]
s = json.load(open(source))
sys.exit(0 if s.get("crc32") == crc and s.get("bytes") == os.path.getsize(model) else 1)
PY
then
  exit 0
fi
mkdir -p "$out"
PYTHONPATH=scripts /usr/bin/python3 -m timbrel.export.onnx_from_tmbl "$model" --out "$out"
/usr/bin/python3 - "$model" "$out/source.json" "$name" <<'PY'
import json, os, struct, sys
model, target, name = sys.argv[1:4]
with open(model, "rb") as f:
    f.seek(-4, os.SEEK_END)
    crc = struct.unpack("<I", f.read(4))[0]
json.dump({"model": os.path.basename(model), "bytes": os.path.getsize(model), "crc32": crc,
           "decoder": f"{name}.decoder.onnx"}, open(target, "w"), indent=1)
PY
echo "wrote $out ($(ls "$out" | tr '\n' ' '))"
