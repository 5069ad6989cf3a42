#!/usr/bin/env bash
# One real training epoch per engine, same config, side by side:
#   tools/bench-epoch.sh <config.json> <upstream stagesDir> [engine...]   (engines: tfjs onnx; default both)
# <upstream stagesDir> must hold finished ingest, text-clean, tokenize and featurize stages (e.g. a
# full Flickr8k run's). Each engine trains exactly 1 epoch from the config's seed into a fresh
# temporary stagesDir whose upstream stages are symlinks, so nothing upstream is recomputed or
# touched. Decoding during validation uses the same engine (CAPTIONER_DECODE_ENGINE), so the wasm
# row is the whole portable path and the onnx row the whole native one. Prints, per engine: epoch
# wall time (train + validation as the train stage logs it), train tokens/s, train loss, peak RSS.
# Run it on a quiet machine (the numbers are only comparable within one run).
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: tools/bench-epoch.sh <config.json> <upstream stagesDir> [tfjs|onnx ...]" >&2
  exit 2
fi
config=$1; upstream=$2; shift 2
engines=("$@"); [ ${#engines[@]} -eq 0 ] && engines=(tfjs onnx)
root=$(cd "$(dirname "$0")/.." && pwd)
for stage in ingest text-clean tokenize featurize; do
  [ -d "$upstream/$stage" ] || { echo "tools/bench-epoch.sh: $upstream/$stage is missing (run that stage first)" >&2; exit 2; }
done
[ -x /usr/bin/time ] || { echo "tools/bench-epoch.sh: needs GNU time (Debian package 'time')" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-epoch.XXXXXX")
trap 'rm -rf "$work"' EXIT
printf '%-6s %10s %10s %10s %10s\n' engine 'epoch s' 'tokens/s' 'train loss' 'peak MiB' > "$work/table"
for engine in "${engines[@]}"; do
  case $engine in tfjs) decode=tfjs ;; onnx) decode=onnx ;; *) echo "unknown engine '$engine' (tfjs|onnx)" >&2; exit 2 ;; esac
  dir="$work/$engine"; mkdir -p "$dir"
  for stage in ingest text-clean tokenize featurize; do ln -s "$(cd "$upstream/$stage" && pwd)" "$dir/$stage"; done
  echo "== $engine: 1 epoch ($config) $(date -u +%FT%TZ)" >&2
  CAPTIONER_DECODE_ENGINE=$decode /usr/bin/time -o "$work/time" -f '%M' \
    node "$root/packages/cli/bin/captioner.js" train --config "$config" --stagesDir "$dir" \
    --train.epochs 1 --train.engine "$engine" >&2
  node -e '
    const fs = require("fs");
    const rows = fs.readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(l));
    const m = rows[rows.length - 1];
    const kib = Number(fs.readFileSync(process.argv[2], "utf8").trim().split("\n").pop());
    console.log([process.argv[3].padEnd(6), m.epochSeconds.toFixed(1).padStart(10), m.tokensPerSec.toFixed(0).padStart(10),
      m.trainLoss.toFixed(4).padStart(10), String(Math.round(kib / 1024)).padStart(10)].join(" "));
  ' "$dir/train/metrics.jsonl" "$work/time" "$engine" >> "$work/table"
done
echo "one epoch per engine, $(nproc) cores, $(date -u +%FT%TZ):"
cat "$work/table"
