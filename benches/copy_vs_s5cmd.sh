#!/usr/bin/env bash
# Server-side copies side by side on SeaweedFS: one object of SIZE_MIB (default 1024) copied
# by ferry (UploadPartCopy, 16 MiB parts, 8 at a time) and by s5cmd, alternating, three rounds;
# then one copy streamed through ferry (--source-endpoint-url: ranged GETs into upload parts).
# Prints wall time, user and sys CPU, and peak RSS of each run (GNU time).
#   benches/copy_vs_s5cmd.sh [SIZE_MIB]
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-1024}
bin=$(scripts/testbed-setup)
cargo build --quiet --release --bin ferry
cargo build --quiet -p ferry-testkit --bin ferry-testbed
target=${CARGO_TARGET_DIR:-target}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
head -c "$((size_mib * 1024 * 1024))" /dev/urandom > "$work/data.bin"
export FERRY="$PWD/$target/release/ferry" S5CMD="$bin/s5cmd" DATA="$work/data.bin" WORK="$work"
"$target/debug/ferry-testbed" -- bash -c '
set -euo pipefail
ep=$FERRY_TEST_SEAWEEDFS
"$FERRY" mb s3://bench >/dev/null
"$FERRY" cp "$DATA" s3://bench/obj --quiet --state-dir "$WORK/state"
for i in 1 2 3; do
  /usr/bin/time -f "ferry  %e s wall  %U s user  %S s sys  %M KiB peak RSS" \
    "$FERRY" cp s3://bench/obj "s3://bench/ferry-$i" --quiet --state-dir "$WORK/state"
  /usr/bin/time -f "s5cmd  %e s wall  %U s user  %S s sys  %M KiB peak RSS" \
    "$S5CMD" --endpoint-url "$ep" cp s3://bench/obj "s3://bench/s5cmd-$i" >/dev/null
done
/usr/bin/time -f "ferry streamed  %e s wall  %U s user  %S s sys  %M KiB peak RSS" \
  "$FERRY" cp s3://bench/obj s3://bench/streamed --source-endpoint-url "$ep" --quiet
'
