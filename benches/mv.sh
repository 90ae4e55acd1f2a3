#!/usr/bin/env bash
# Moving a folder of N small files up to a prefix, and a prefix of N objects down to a folder, on
# SeaweedFS: ferry mv -r, s5cmd mv, the aws cli's s3 mv --recursive and rclone move, each at its
# defaults, in rounds with the tools' order rotated. Before each timed run the source is made
# again (not timed: the files copied from one folder, or the objects by ferry cp -r); after it,
# what is left at the source (must be 0) and what reached the destination (must be N) are
# counted. Every request goes through a proxy that counts it. Writes docs/bench/mv.md (or
# $FERRY_BENCH_OUT/mv.md): medians of wall time and client CPU (user + sys), and the requests of
# one run, per tool and direction.
#   benches/mv.sh                       2,000 files of 64 KiB, 3 rounds
#   FERRY_MV_OBJECTS=500 FERRY_MV_ROUNDS=5 benches/mv.sh
#   FERRY_BASE=/abs/path/to/another/ferry benches/mv.sh   # that build too, as "ferry (base)"
set -euo pipefail
BENCH_NAME=mv-bench
# shellcheck source=benches/common.sh
. "$(dirname "$0")/common.sh"
peer_tools
export N=${FERRY_MV_OBJECTS:-2000} ROUNDS=${FERRY_MV_ROUNDS:-3}
"$target/release/ferry-testbed" --requests "$work/requests.log" -- bash -c '
set -euo pipefail
EP=$FERRY_TEST_SEAWEEDFS
export AWS_DEFAULT_REGION=us-east-1
rclone_loc "$EP"
"$FERRY" mb s3://mv-bench -q
src=$WORK/src
make_files "$src" "$N" 65536 200
move_with() { # tool direction folder prefix
  local url="s3://mv-bench/$4/"
  case "$1 $2" in
    "ferry up") "$FERRY" mv -r -q "$3" "$url" ;;
    "ferry down") "$FERRY" mv -r -q "$url" "$3" ;;
    "ferry (base) up") "$FERRY_BASE" mv -r -q "$3" "$url" ;;
    "ferry (base) down") "$FERRY_BASE" mv -r -q "$url" "$3" ;;
    "s5cmd up") "$S5CMD" --endpoint-url "$EP" mv "$3/*" "$url" > /dev/null ;;
    "s5cmd down") "$S5CMD" --endpoint-url "$EP" mv "$url*" "$3/" > /dev/null ;;
    "aws up") "$AWS" --endpoint-url "$EP" s3 mv --recursive "$3" "$url" --only-show-errors ;;
    "aws down") "$AWS" --endpoint-url "$EP" s3 mv --recursive "$url" "$3" --only-show-errors ;;
    "rclone up") "$RCLONE" --config /dev/null move "$3" "loc:mv-bench/$4" ;;
    "rclone down") "$RCLONE" --config /dev/null move "loc:mv-bench/$4" "$3" ;;
  esac
}
objects() { "$FERRY" ls -r "s3://mv-bench/$1/" 2>/dev/null | wc -l || true; }
files() { find "$1" -type f 2>/dev/null | wc -l; }
run() { # round direction tool
  local round=$1 direction=$2 tool=$3 prefix=${3// /-}
  prefix=${prefix//[()]/}-$direction-$round
  local folder=$WORK/$prefix
  rm -rf "$folder"
  if [ "$direction" = up ]; then
    cp -r "$src" "$folder"
  else
    "$FERRY" cp -r -q --no-progress "$src" "s3://mv-bench/$prefix/"
  fi
  sync
  sleep 0.5
  local before; before=$(wc -l < "$WORK/requests.log")
  local t0; t0=$(date +%s.%N)
  local cpu0; cpu0=$(awk "{print \$14+\$15+\$16+\$17}" /proc/$$/stat)
  move_with "$tool" "$direction" "$folder" "$prefix" > "$WORK/out" 2>&1 || echo "$tool exited $?: $(tail -3 "$WORK/out")" >&2
  local t1; t1=$(date +%s.%N)
  local cpu1; cpu1=$(awk "{print \$14+\$15+\$16+\$17}" /proc/$$/stat)
  sleep 0.5
  local reqs; reqs=$(tail -n +$((before + 1)) "$WORK/requests.log")
  local get put post del left there
  get=$(grep -c "^GET " <<< "$reqs" || true)
  put=$(grep -c "^PUT " <<< "$reqs" || true)
  post=$(grep -c "^POST " <<< "$reqs" || true)
  del=$(grep -c "^DELETE " <<< "$reqs" || true)
  if [ "$direction" = up ]; then
    left=$(files "$folder"); there=$(objects "$prefix")
  else
    left=$(objects "$prefix"); there=$(files "$folder")
  fi
  echo "{\"round\":$round,\"direction\":\"$direction\",\"tool\":\"$tool\",\"wall\":$(awk "BEGIN{printf \"%.3f\", $t1 - $t0}"),\"cpu\":$(awk "BEGIN{printf \"%.3f\", ($cpu1 - $cpu0) / $(getconf CLK_TCK)}"),\"get\":$get,\"put\":$put,\"post\":$post,\"delete\":$del,\"left\":$left,\"there\":$there}" | tee -a "$WORK/runs.jsonl"
  rm -rf "$folder"
  "$FERRY" rm -r -q "s3://mv-bench/$prefix/" > /dev/null 2>&1 || true
}
tools=(ferry s5cmd aws rclone)
[ -n "$FERRY_BASE" ] && tools=(ferry "ferry (base)" s5cmd aws rclone)
for ((r = 0; r < ROUNDS; r++)); do
  for direction in up down; do
    for ((i = 0; i < ${#tools[@]}; i++)); do
      run "$r" "$direction" "${tools[$(((i + r) % ${#tools[@]}))]}"
    done
  done
done
'
"$tests_bin/python" - "$work/runs.jsonl" "$out/mv.md" "${FERRY_MV_OBJECTS:-2000}" <<'PY'
import json, statistics, sys, datetime
runs = [json.loads(l) for l in open(sys.argv[1])]
n = int(sys.argv[3])
tools = list(dict.fromkeys(r["tool"] for r in runs))
lines = [
    f"Moving {n:,} files of 64 KiB on SeaweedFS 4.48, measured {datetime.date.today()} on 2 "
    f"cores (`benches/mv.sh`): up, a folder to a prefix (the files deleted); down, a prefix to "
    f"a folder (the objects deleted). Each tool at its defaults, "
    f"{max(r['round'] for r in runs) + 1} rounds, the order rotated; medians. CPU = user + sys "
    f"of the tool; requests of its first run, through a counting proxy; left = what was still "
    f"at the source after a run (most of any run), there = what reached the destination "
    f"(fewest of any run).",
    "",
    "| direction | tool | wall s | objects/s | CPU s | GET | PUT | POST | DELETE | left | there |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
]
for d in ("up", "down"):
    for t in tools:
        rs = [r for r in runs if r["tool"] == t and r["direction"] == d]
        if not rs:
            continue
        wall = statistics.median(r["wall"] for r in rs)
        cpu = statistics.median(r["cpu"] for r in rs)
        f = rs[0]
        lines.append(
            f"| {d} | {t} | {wall:.2f} | {n / wall:,.0f} | {cpu:.2f} | {f['get']} | {f['put']} "
            f"| {f['post']} | {f['delete']} | {max(r['left'] for r in rs)} "
            f"| {min(r['there'] for r in rs)} |"
        )
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
cp "$work/runs.jsonl" "$out/mv-runs.jsonl"
