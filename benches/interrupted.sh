#!/usr/bin/env bash
# Resume after Ctrl-C, on SeaweedFS: `ferry cp -r` of 5 x 40 MiB (16 MiB parts) interrupted
# with SIGINT after 1.2 s, then the same command again. Each round records the bytes of parts
# the server held once the first run had stopped (boto3's ListParts), the bytes the second run
# reused (its `resumed`), and their difference: parts it sent again, though the server held
# them. FERRY_BASE=/path/to/an/older/ferry runs that build too, alternating. Writes
# docs/bench/interrupted.md (or $FERRY_BENCH_OUT/interrupted.md).
#   benches/interrupted.sh                  3 rounds
#   FERRY_BASE=... FERRY_INT_ROUNDS=5 benches/interrupted.sh
set -euo pipefail
BENCH_NAME=interrupted-bench
# shellcheck source=benches/common.sh
. "$(dirname "$0")/common.sh"
export FERRY="$target/release/ferry" BASE="${FERRY_BASE:-}" WORK="$work"
export PY="$tests_bin/python" ROUNDS=${FERRY_INT_ROUNDS:-3}
report="$out/interrupted.md"
{
echo "# Resume after Ctrl-C"
echo
echo "\`benches/interrupted.sh\`, $(date -u +%F), ferry $(git rev-parse --short HEAD)${BASE:+, base $BASE}, $(nproc) cores:"
echo "\`cp -r\` of 5 x 40 MiB to SeaweedFS, SIGINT after 1.2 s, then the same command again."
echo
"$target/release/ferry-testbed" -- bash -c '
set -euo pipefail
cd "$WORK"
mkdir src
for i in 1 2 3 4 5; do head -c $((40 << 20)) /dev/urandom > src/big$i; done
builds="ferry=$FERRY"
[ -z "$BASE" ] || builds="ferry-base=$BASE $builds"
n=0
echo "| build | round | parts the server held (MiB) | reused (MiB) | sent again (MiB) |"
echo "| --- | --- | --- | --- | --- |"
for round in $(seq 1 "$ROUNDS"); do
  for b in $builds; do
    name=${b%%=*} bin=${b#*=}
    n=$((n + 1))
    export FERRY_STATE_DIR=$WORK/state$n
    "$bin" mb "s3://int$n" >/dev/null
    "$bin" cp -r src "s3://int$n/t" -q --no-progress 2>/dev/null & pid=$!
    sleep 1.2
    kill -INT "$pid"
    wait "$pid" 2>/dev/null || true
    # Parts in flight at the interrupt may still land: let the server settle.
    sleep 1
    held=$("$PY" - "int$n" <<"EOF"
import boto3, os, sys
s = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
b = sys.argv[1]
print(sum(p["Size"]
          for u in s.list_multipart_uploads(Bucket=b).get("Uploads", [])
          for p in s.list_parts(Bucket=b, Key=u["Key"], UploadId=u["UploadId"]).get("Parts", [])))
EOF
)
    line=$("$bin" cp -r src "s3://int$n/t" --no-progress | tail -1)
    reused=$(echo "$line" | sed -n "s/.*(\([0-9]*\) resumed).*/\1/p")
    reused=${reused:-0}
    echo "| $name | $round | $((held >> 20)) | $((reused >> 20)) | $(((held - reused) >> 20)) |"
  done
done
'
} | tee "$report"
echo "wrote $report"
