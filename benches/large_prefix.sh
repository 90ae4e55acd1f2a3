#!/usr/bin/env bash
# A few files into and out of a prefix of many objects, over a 40 ms round trip (SeaweedFS
# behind ferry-testbed's delay proxy), where listing the prefix costs more than the transfers:
#   up:   3 new files synced into a prefix of N objects (each run sends them again): ferry's
#         sync (which lists the prefix, passing over the folder the source lacks) and sync
#         --no-traverse, rclone's copy and copy --no-traverse, and the aws cli's sync;
#   across: the same 3 as objects of another prefix, synced into it: ferry's sync, rclone's
#         copy and the aws cli's sync (each copying on the server);
#   down: 4 keys named by a list, out of that prefix: ferry's cp -r --files-from, rclone's
#         copy --files-from (and with --no-traverse), and the aws cli's cp --recursive with
#         --exclude '*' and an --include each;
#   rm:   the same 4 keys deleted (put back after each run): ferry's rm -r --files-from,
#         rclone's delete --files-from, and the aws cli's rm --recursive with the same filters.
# Writes docs/bench/large-prefix.md (or $FERRY_BENCH_OUT/large-prefix.md): the median wall
# time of each, over the rounds.
#   benches/large_prefix.sh                       20,000 objects, 5 rounds
#   FERRY_PREFIX_OBJECTS=100000 FERRY_BENCH_ROUNDS=3 benches/large_prefix.sh
#   FERRY_BASE=/abs/path/to/another/ferry benches/large_prefix.sh   # that build too
set -euo pipefail
BENCH_NAME=large-prefix
# shellcheck source=benches/common.sh
. "$(dirname "$0")/common.sh"
peer_tools
export OUT="$out" OBJECTS=${FERRY_PREFIX_OBJECTS:-20000} ROUNDS=${FERRY_BENCH_ROUNDS:-5}
VERSIONS="$(date -u +%F), ferry $(git rev-parse --short HEAD)${FERRY_BASE:+ and $FERRY_BASE as (base)}, $("$RCLONE" version | head -1), $("$AWS" --version 2>&1 | cut -d' ' -f1)"
export VERSIONS
"$target/release/ferry-testbed" --wan 20 -- bash -c '
set -euo pipefail
EP=$FERRY_TEST_SEAWEEDFS
export AWS_DEFAULT_REGION=us-east-1
rclone_loc "$EP"
"$FERRY" mb s3://large-prefix >/dev/null
make_files "$WORK/many" "$OBJECTS" 100 1000000
"$FERRY" cp -r -q "$WORK/many" s3://large-prefix/p/
mkdir -p "$WORK/src"
for i in 1 2 3; do "$PYTHON" -c "import os,sys; open(sys.argv[1],\"wb\").write(os.urandom(100000))" "$WORK/src/new$i.bin"; done
"$FERRY" cp -r -q "$WORK/src" s3://large-prefix/src/
printf "d000/f00010\nd000/f%05d\nd000/f%05d\nd000/f%05d\n" $((OBJECTS / 3)) $((OBJECTS / 2)) $((OBJECTS - 1)) > "$WORK/list"
include=()
while read -r k; do include+=(--include "$k"); done < "$WORK/list"
timed() { # direction name command...
  local direction=$1 name=$2; shift 2
  local t0 t1; t0=$(date +%s.%N)
  "$@" > "$WORK/last.out" 2>&1 || { echo "$name exited $?:" >&2; tail -5 "$WORK/last.out" >&2; }
  t1=$(date +%s.%N)
  echo "{\"direction\":\"$direction\",\"tool\":\"$name\",\"wall\":$(awk "BEGIN{printf \"%.3f\", $t1 - $t0}")}" >> "$WORK/runs.jsonl"
}
unsent() { "$FERRY" rm -q s3://large-prefix/p/new1.bin s3://large-prefix/p/new2.bin s3://large-prefix/p/new3.bin 2>/dev/null || true; }
up() { # name command...
  unsent; timed up "$@"
}
across() { # name command...
  unsent; timed across "$@"
}
removed() { # name command... (the keys put back after, for the next)
  timed rm "$@"
  while read -r k; do "$FERRY" cp -q "$WORK/many/$k" "s3://large-prefix/p/$k"; done < "$WORK/list"
}
down() { # name command...
  rm -rf "$WORK/down"; timed down "$@"
}
for round in $(seq "$ROUNDS"); do
  up "ferry sync" "$FERRY" sync -q "$WORK/src" s3://large-prefix/p
  up "ferry sync --no-traverse" "$FERRY" sync -q "$WORK/src" s3://large-prefix/p --no-traverse
  [ -n "$FERRY_BASE" ] && up "ferry (base) sync" "$FERRY_BASE" sync -q "$WORK/src" s3://large-prefix/p
  up "rclone copy" "$RCLONE" --config /dev/null copy "$WORK/src" loc:large-prefix/p
  up "rclone copy --no-traverse" "$RCLONE" --config /dev/null copy --no-traverse "$WORK/src" loc:large-prefix/p
  up "aws s3 sync" "$AWS" --endpoint-url "$EP" s3 sync "$WORK/src" s3://large-prefix/p --only-show-errors
  across "ferry sync" "$FERRY" sync -q s3://large-prefix/src s3://large-prefix/p
  [ -n "$FERRY_BASE" ] && across "ferry (base) sync" "$FERRY_BASE" sync -q s3://large-prefix/src s3://large-prefix/p
  across "rclone copy" "$RCLONE" --config /dev/null copy loc:large-prefix/src loc:large-prefix/p
  across "aws s3 sync" "$AWS" --endpoint-url "$EP" s3 sync s3://large-prefix/src s3://large-prefix/p --only-show-errors
  down "ferry cp -r --files-from" "$FERRY" cp -r -q s3://large-prefix/p/ "$WORK/down" --files-from "$WORK/list"
  [ -n "$FERRY_BASE" ] && down "ferry (base) cp -r --files-from" "$FERRY_BASE" cp -r -q s3://large-prefix/p/ "$WORK/down" --files-from "$WORK/list"
  down "rclone copy --files-from" "$RCLONE" --config /dev/null copy loc:large-prefix/p "$WORK/down" --files-from "$WORK/list"
  down "rclone copy --files-from --no-traverse" "$RCLONE" --config /dev/null copy loc:large-prefix/p "$WORK/down" --files-from "$WORK/list" --no-traverse
  down "aws s3 cp --recursive --include" "$AWS" --endpoint-url "$EP" s3 cp s3://large-prefix/p "$WORK/down" --recursive --exclude "*" "${include[@]}" --only-show-errors
  removed "ferry rm -r --files-from" "$FERRY" rm -r -q s3://large-prefix/p/ --files-from "$WORK/list"
  [ -n "$FERRY_BASE" ] && removed "ferry (base) rm -r --files-from" "$FERRY_BASE" rm -r -q s3://large-prefix/p/ --files-from "$WORK/list"
  removed "rclone delete --files-from" "$RCLONE" --config /dev/null delete loc:large-prefix/p --files-from "$WORK/list"
  removed "aws s3 rm --recursive --include" "$AWS" --endpoint-url "$EP" s3 rm s3://large-prefix/p --recursive --exclude "*" "${include[@]}" --only-show-errors
done
"$PYTHON" - "$WORK/runs.jsonl" "$OUT/large-prefix.md" <<PY
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
rows = {}
for r in runs:
    rows.setdefault((r["direction"], r["tool"]), []).append(r["wall"])
lines = ["# A few files into and out of a prefix of $OBJECTS objects, over a 40 ms round trip", "",
         "benches/large_prefix.sh on SeaweedFS behind ferry-testbed --wan 20; $ROUNDS rounds, the tools alternating.",
         "$VERSIONS.",
         "up: 3 new files of 100 KB synced into the prefix; across: the same 3 as objects of another prefix, synced into it; down: 4 keys a list names, out of it; rm: those 4 deleted.", "",
         "| direction | command | median s | each round s |", "| --- | --- | --- | --- |"]
for (d, t), w in rows.items():
    each = ", ".join("%.2f" % x for x in w)
    lines.append(f"| {d} | {t} | {statistics.median(w):.2f} | {each} |")
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
'
