#!/usr/bin/env bash
# Runs pipeline stages one after another through the captioner CLI, outside Nx, and prints each
# stage's wall time and peak RSS (GNU time). Used for the Flickr8k benchmark and its ablations:
#   tools/run-stages.sh pipelines/configs/ablations/mixed5.json featurize train evaluate [-- --train.epochs 2]
# Arguments after `--` go to every stage. Exits at the first failing stage with its exit code.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: tools/run-stages.sh <config.json> <stage>... [-- <overrides>...]" >&2
  exit 2
fi
config=$1; shift
stages=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do stages+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
root=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -x /usr/bin/time ]; then
  echo "tools/run-stages.sh: needs GNU time (/usr/bin/time; Debian package 'time')" >&2
  exit 2
fi
summary=$(mktemp)
trap 'rm -f "$summary"' EXIT
for stage in "${stages[@]}"; do
  echo "== $stage ($config) $(date -u +%FT%TZ)" >&2
  /usr/bin/time -o "$summary.one" -f "%e %M" node "$root/packages/cli/bin/captioner.js" "$stage" --config "$config" "$@" \
    || { code=$?; rm -f "$summary.one"; exit $code; }
  read -r seconds kib < "$summary.one"; rm -f "$summary.one"
  printf '%-11s %8.1f s  peak RSS %6d MiB\n' "$stage" "$seconds" $((kib / 1024)) | tee -a "$summary" >&2
done
echo "stage times ($config):" >&2
cat "$summary" >&2
