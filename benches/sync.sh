#!/usr/bin/env bash
# Sync on SeaweedFS: ferry, the aws cli, s5cmd and rclone, each at its defaults, each syncing the
# same folder of N small files to its own prefix: a first sync (everything moves), a second with
# nothing changed (the no-op), a third after 1% of the files changed, and a fourth with
# deletions after half the files were removed. Every request goes through a proxy that counts
# it (ferry-testbed --requests). Writes docs/bench/sync.md (or $FERRY_BENCH_OUT/sync.md): wall
# time, client CPU (user + sys) and requests by kind, per tool.
#   benches/sync.sh            20,000 files of 1 KiB
#   FERRY_SYNC_FILES=2000 benches/sync.sh
#   FERRY_BASE=/abs/path/to/another/ferry benches/sync.sh   # that build too, as "ferry-base"
set -euo pipefail
BENCH_NAME=sync-bench
# shellcheck source=benches/common.sh
. "$(dirname "$0")/common.sh"
peer_tools
export OUT="$out" FILES=${FERRY_SYNC_FILES:-20000}
"$target/release/ferry-testbed" --requests "$work/requests.log" -- bash -c '
set -euo pipefail
EP=$FERRY_TEST_SEAWEEDFS
export AWS_DEFAULT_REGION=us-east-1
rclone_loc "$EP"
"$AWS" --endpoint-url "$EP" s3 mb s3://sync-bench >/dev/null
src=$WORK/src
make_files "$src" "$FILES" 1024 200 .bin
run() { # tool phase command...
  local tool=$1 phase=$2; shift 2
  local before; before=$(wc -l < "$WORK/requests.log")
  local t0; t0=$(date +%s.%N)
  local cpu0; cpu0=$(awk "{print \$14+\$15+\$16+\$17}" /proc/$$/stat)
  "$@" > "$WORK/$tool-$phase.out" 2>&1 || echo "$tool $phase exited $?" >&2
  local t1; t1=$(date +%s.%N)
  local cpu1; cpu1=$(awk "{print \$14+\$15+\$16+\$17}" /proc/$$/stat)
  sleep 0.5
  local reqs; reqs=$(tail -n +$((before + 1)) "$WORK/requests.log")
  local list head put post get del
  # A listing is a GET of the bucket itself (ListObjects v1 or v2), an object GET names a key.
  list=$(grep -cE "^GET /[^/ ?]+/?(\?| |$)" <<< "$reqs" || true)
  head=$(grep -c "^HEAD " <<< "$reqs" || true)
  put=$(grep -c "^PUT " <<< "$reqs" || true)
  post=$(grep -c "^POST " <<< "$reqs" || true)
  get=$(grep -c "^GET " <<< "$reqs" || true)
  del=$(grep -c "^DELETE " <<< "$reqs" || true)
  echo "{\"tool\":\"$tool\",\"phase\":\"$phase\",\"wall\":$(awk "BEGIN{printf \"%.3f\", $t1 - $t0}"),\"cpu\":$(awk "BEGIN{printf \"%.3f\", ($cpu1 - $cpu0) / $(getconf CLK_TCK)}"),\"list\":$list,\"head\":$head,\"put\":$put,\"post\":$post,\"get\":$((get - list)),\"delete\":$del}" >> "$WORK/runs.jsonl"
}
sync_with() { # tool [--delete]: rclone sync always deletes
  local tool=$1; shift
  case $tool in
    ferry) "$FERRY" sync "$src" s3://sync-bench/ferry --no-progress -q "$@" ;;
    ferry-base) "$FERRY_BASE" sync "$src" s3://sync-bench/ferry-base --no-progress -q "$@" ;;
    aws) "$AWS" --endpoint-url "$EP" s3 sync "$src" s3://sync-bench/aws --only-show-errors "$@" ;;
    s5cmd) "$S5CMD" --endpoint-url "$EP" sync "$@" "$src/" s3://sync-bench/s5cmd/ ;;
    rclone) "$RCLONE" --config /dev/null sync "$src" loc:sync-bench/rclone ;;
  esac
}
export -f run sync_with
tools="ferry aws s5cmd rclone"
[ -n "$FERRY_BASE" ] && tools="ferry ferry-base aws s5cmd rclone"
for t in $tools; do run "$t" first sync_with "$t"; done
for t in $tools; do run "$t" no-op sync_with "$t"; done
"$PYTHON" - "$src" "$FILES" <<PY
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(0, n, 100):
    p = os.path.join(root, "d%03d" % (i // 200), "f%05d.bin" % i)
    with open(p, "wb") as f:
        f.write(os.urandom(1025))
PY
for t in $tools; do run "$t" changed sync_with "$t"; done
# Half the folders go: each tool deletes their objects.
find "$src" -mindepth 1 -maxdepth 1 -name "d*[13579]" -exec rm -r {} +
for t in $tools; do run "$t" deleted sync_with "$t" --delete; done
'
"$tests_bin/python" - "$work/runs.jsonl" "$out/sync.md" "$FILES" <<'PY'
import json, sys, datetime, platform, subprocess
runs = [json.loads(l) for l in open(sys.argv[1])]
n = int(sys.argv[3])
def ver(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines()[0]
    except Exception:
        return "?"
lines = [
    f"Sync of {n:,} files of 1 KiB to SeaweedFS 4.48, measured {datetime.date.today()} on 2 cores "
    f"(`benches/sync.sh`): each tool at its defaults syncs the same folder to its own prefix; "
    f"every request passes a counting proxy. `first`: everything moves; `no-op`: nothing changed; "
    f"`changed`: 1% of the files rewritten (a byte longer); `deleted`: half the folders "
    f"removed, synced with deletions. CPU = user + sys of the tool.",
    "",
    "| phase | tool | wall s | CPU s | LIST | HEAD | PUT | POST | GET | DELETE |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
]
for phase in ["no-op", "changed", "deleted", "first"]:
    for r in runs:
        if r["phase"] == phase:
            lines.append(f"| {phase} | {r['tool']} | {r['wall']:.2f} | {r['cpu']:.2f} | {r['list']} | {r['head']} | {r['put']} | {r['post']} | {r['get']} | {r['delete']} |")
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
cp "$work/runs.jsonl" "$out/sync-runs.jsonl"
