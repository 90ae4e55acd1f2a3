#!/usr/bin/env bash
# Deleting a prefix of N small objects on SeaweedFS: ferry rm -r, s5cmd rm, the aws cli's s3 rm
# --recursive and rclone delete, each at its defaults, in rounds with the tools' order rotated.
# Before each timed run the tool's prefix is filled again (ferry cp -r of one folder, not
# timed); after it, what is left under the prefix is counted (it must be 0). Every request goes
# through a proxy that counts it. Writes docs/bench/rm.md (or $FERRY_BENCH_OUT/rm.md): medians
# of wall time and client CPU (user + sys), and the requests of one run, per tool.
#   benches/rm.sh                       10,000 objects, 3 rounds
#   FERRY_RM_OBJECTS=2000 FERRY_RM_ROUNDS=5 benches/rm.sh
#   FERRY_BASE=/abs/path/to/another/ferry benches/rm.sh   # that build too, as "ferry (base)"
set -euo pipefail
BENCH_NAME=rm-bench
# shellcheck source=benches/common.sh
. "$(dirname "$0")/common.sh"
peer_tools
export N=${FERRY_RM_OBJECTS:-10000} ROUNDS=${FERRY_RM_ROUNDS:-3}
"$target/release/ferry-testbed" --requests "$work/requests.log" -- bash -c '
set -euo pipefail
EP=$FERRY_TEST_SEAWEEDFS
export AWS_DEFAULT_REGION=us-east-1
rclone_loc "$EP"
"$FERRY" mb s3://rm-bench -q
src=$WORK/src
make_files "$src" "$N" 1 500
remove_with() { # tool prefix
  case $1 in
    ferry) "$FERRY" rm -r -q "s3://rm-bench/$2" ;;
    "ferry (base)") "$FERRY_BASE" rm -r -q "s3://rm-bench/$2" ;;
    s5cmd) "$S5CMD" --endpoint-url "$EP" rm "s3://rm-bench/$2/*" > /dev/null ;;
    aws) "$AWS" --endpoint-url "$EP" s3 rm --recursive "s3://rm-bench/$2/" --only-show-errors ;;
    rclone) "$RCLONE" --config /dev/null delete "loc:rm-bench/$2" ;;
  esac
}
run() { # round tool
  local round=$1 tool=$2 prefix=${2// /-}
  prefix=${prefix//[()]/}
  "$FERRY" cp -r -q --no-progress "$src" "s3://rm-bench/$prefix"
  sleep 0.5
  local before; before=$(wc -l < "$WORK/requests.log")
  local t0; t0=$(date +%s.%N)
  local cpu0; cpu0=$(awk "{print \$14+\$15+\$16+\$17}" /proc/$$/stat)
  remove_with "$tool" "$prefix" > "$WORK/out" 2>&1 || echo "$tool exited $?: $(tail -3 "$WORK/out")" >&2
  local t1; t1=$(date +%s.%N)
  local cpu1; cpu1=$(awk "{print \$14+\$15+\$16+\$17}" /proc/$$/stat)
  sleep 0.5
  local reqs; reqs=$(tail -n +$((before + 1)) "$WORK/requests.log")
  local list post del left
  list=$(grep -cE "^GET /[^/ ?]+/?(\?| |$)" <<< "$reqs" || true)
  post=$(grep -c "^POST " <<< "$reqs" || true)
  del=$(grep -c "^DELETE " <<< "$reqs" || true)
  left=$("$FERRY" ls -r "s3://rm-bench/$prefix/" 2>/dev/null | wc -l || true)
  echo "{\"round\":$round,\"tool\":\"$tool\",\"wall\":$(awk "BEGIN{printf \"%.3f\", $t1 - $t0}"),\"cpu\":$(awk "BEGIN{printf \"%.3f\", ($cpu1 - $cpu0) / $(getconf CLK_TCK)}"),\"list\":$list,\"post\":$post,\"delete\":$del,\"left\":$left}" | tee -a "$WORK/runs.jsonl"
}
tools=(ferry s5cmd aws rclone)
[ -n "$FERRY_BASE" ] && tools=(ferry "ferry (base)" s5cmd aws rclone)
for ((r = 0; r < ROUNDS; r++)); do
  for ((i = 0; i < ${#tools[@]}; i++)); do
    run "$r" "${tools[$(((i + r) % ${#tools[@]}))]}"
  done
done
'
"$tests_bin/python" - "$work/runs.jsonl" "$out/rm.md" "${FERRY_RM_OBJECTS:-10000}" <<'PY'
import json, statistics, sys, datetime
runs = [json.loads(l) for l in open(sys.argv[1])]
n = int(sys.argv[3])
tools = list(dict.fromkeys(r["tool"] for r in runs))
lines = [
    f"Deleting a prefix of {n:,} objects of 1 byte on SeaweedFS 4.48, measured "
    f"{datetime.date.today()} on 2 cores (`benches/rm.sh`): each tool at its defaults, "
    f"{max(r['round'] for r in runs) + 1} rounds, the order rotated; medians. CPU = user + sys "
    f"of the tool; requests of its first run, through a counting proxy (DeleteObjects is a "
    f"POST); left = objects still under the prefix after each run.",
    "",
    "| tool | wall s | objects/s | CPU s | LIST | POST | DELETE | left |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
]
for t in tools:
    rs = [r for r in runs if r["tool"] == t]
    wall = statistics.median(r["wall"] for r in rs)
    cpu = statistics.median(r["cpu"] for r in rs)
    first = rs[0]
    left = max(r["left"] for r in rs)
    lines.append(
        f"| {t} | {wall:.2f} | {n / wall:,.0f} | {cpu:.2f} | {first['list']} | {first['post']} "
        f"| {first['delete']} | {left} |"
    )
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
cp "$work/runs.jsonl" "$out/rm-runs.jsonl"
