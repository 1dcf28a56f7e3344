#!/usr/bin/env bash
# Wall time of each per-image stage rerun on its own (forced), then of the whole per-image chain,
# in a finished run directory, with a given shard count. The run must already be complete with
# that shard count (a first `snakemake --directory DIR --config shards=N` does it).
#   benchmarks/stage_times.sh DIR N [extra snakemake arguments]
# Prints one line per measurement; each run's log is DIR.<rule>.log.
set -euo pipefail
dir=$1 shards=$2
shift 2
cd "$(dirname "$0")/.."
measure() {  # name, then snakemake arguments
  local name=$1 start
  shift
  start=$(date +%s.%N)
  .venv/bin/snakemake --cores 2 --directory "$dir" --config shards="$shards" "$@" "${extra[@]}" \
    >"$dir.$name.log" 2>&1
  printf '%-16s shards=%s jobs=%-3s %6.1f s\n' "$name" "$shards" \
    "$(grep -cE '^(local)?rule ' "$dir.$name.log")" "$(echo "$(date +%s.%N) - $start" | bc)"
}
extra=("$@")
measure catch-up --until pseudo_labels  # anything out of date, so that each stage runs alone
# Downstream first: a forced stage leaves only later stages out of date, which --until skips.
for rule in pseudo_labels correct_labels build_graphs score_pixels export_cams; do
  measure "$rule" --forcerun "$rule" --until "$rule"
done
measure chain --forcerun export_cams --until pseudo_labels
