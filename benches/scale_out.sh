#!/usr/bin/env bash
# Scale-out overhead on SeaweedFS, one 2-core host: a single-host `ferry cp` of one file against
# the same file as `ferry plan` + N workers (`ferry cp --plan --shard I/N`, run one after another
# here, as N hosts would run them side by side) + `ferry finish`, alternating, ROUNDS rounds.
# Every request passes a counting proxy (ferry-testbed --requests). Writes
# docs/bench/scale-out.md (or $FERRY_BENCH_OUT/scale-out.md): wall time of each step, medians,
# and the requests of each step by kind.
#   benches/scale_out.sh                 1 GiB, 4 workers, 3 rounds
#   FERRY_SCALE_MIB=256 FERRY_SCALE_SHARDS=8 FERRY_SCALE_ROUNDS=5 benches/scale_out.sh
set -euo pipefail
BENCH_NAME=scale-bench
# shellcheck source=benches/common.sh
. "$(dirname "$0")/common.sh"
export FERRY="$target/release/ferry" AWS="$tests_bin/aws" WORK="$work"
export MIB=${FERRY_SCALE_MIB:-1024} SHARDS=${FERRY_SCALE_SHARDS:-4} ROUNDS=${FERRY_SCALE_ROUNDS:-3}
export HOME="$work/home" AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
mkdir -p "$HOME"
"$target/release/ferry-testbed" --requests "$work/requests.log" -- bash -c '
set -euo pipefail
EP=$FERRY_TEST_SEAWEEDFS
"$AWS" --endpoint-url "$EP" s3 mb s3://scale-bench >/dev/null
head -c $((MIB << 20)) /dev/urandom > "$WORK/big.bin"
step() { # round step command...
  local round=$1 name=$2; shift 2
  local before; before=$(wc -l < "$WORK/requests.log")
  local t0; t0=$(date +%s.%N)
  "$@" > "$WORK/out" 2>&1 || { echo "$name failed:"; cat "$WORK/out"; exit 1; } >&2
  local t1; t1=$(date +%s.%N)
  sleep 0.3
  local reqs; reqs=$(tail -n +$((before + 1)) "$WORK/requests.log")
  local c; c=$(awk "{print \$1}" <<< "$reqs" | sort | uniq -c | awk "{printf \"%s%s %s\", (NR>1?\", \":\"\"), \$1, \$2}")
  echo "{\"round\":$round,\"step\":\"$name\",\"wall\":$(awk "BEGIN{printf \"%.3f\", $t1 - $t0}"),\"requests\":\"$c\"}" >> "$WORK/runs.jsonl"
}
for r in $(seq 1 "$ROUNDS"); do
  step "$r" "single-host cp" "$FERRY" --endpoint-url "$EP" cp "$WORK/big.bin" s3://scale-bench/single.bin --no-progress
  step "$r" plan "$FERRY" --endpoint-url "$EP" plan "$WORK/big.bin" s3://scale-bench/planned.bin --shards "$SHARDS"
  for i in $(seq 0 $((SHARDS - 1))); do
    step "$r" "worker $i" "$FERRY" --endpoint-url "$EP" cp "$WORK/big.bin" s3://scale-bench/planned.bin \
      --plan s3://scale-bench/planned.bin.ferry-plan --shard "$i/$SHARDS" --no-progress
  done
  step "$r" finish "$FERRY" --endpoint-url "$EP" finish s3://scale-bench/planned.bin.ferry-plan --no-progress
done
'
"$tests_bin/python" - "$work/runs.jsonl" "$out/scale-out.md" <<'PY'
import json, sys, datetime, statistics, os
runs = [json.loads(l) for l in open(sys.argv[1])]
steps = []
for r in runs:
    if r["step"] not in steps:
        steps.append(r["step"])
mib, shards, rounds = os.environ["MIB"], os.environ["SHARDS"], os.environ["ROUNDS"]
lines = [
    f"One file of {mib} MiB to SeaweedFS 4.48 on one 2-core host, measured {datetime.date.today()} "
    f"(`benches/scale_out.sh`, {rounds} rounds alternating, medians): a single-host `ferry cp`, "
    f"then the same file as `ferry plan` + {shards} workers run one after another + `ferry finish`. "
    f"Requests counted by a proxy in front of the server (last round).",
    "",
    "| step | wall s (median) | requests (last round) |",
    "| --- | --- | --- |",
]
for s in steps:
    walls = [r["wall"] for r in runs if r["step"] == s]
    last = [r for r in runs if r["step"] == s][-1]
    lines.append(f"| {s} | {statistics.median(walls):.2f} | {last['requests']} |")
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
