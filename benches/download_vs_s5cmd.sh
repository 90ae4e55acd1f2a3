#!/usr/bin/env bash
# Downloads side by side: one object of SIZE_MIB (default 1024) fetched by ferry and by s5cmd,
# alternating, three rounds, against the null sink (what the client costs; the object is the
# sink's own pattern so ferry's check passes) or SeaweedFS (a real store). Prints wall time,
# user and sys CPU, and peak RSS of each run (GNU time); the outputs are compared once.
#   benches/download_vs_s5cmd.sh [null-sink|seaweedfs] [SIZE_MIB]
set -euo pipefail
cd "$(dirname "$0")/.."
server=${1:-null-sink}
size_mib=${2:-1024}
bin=$(scripts/testbed-setup)
cargo build --quiet --release --bin ferry
cargo build --quiet -p ferry-testkit --bin ferry-testbed
target=${CARGO_TARGET_DIR:-target}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
size=$((size_mib * 1024 * 1024))
flag=()
if [ "$server" = null-sink ]; then
  flag=(--null-sink)
  "$target/debug/ferry-testbed" --write-pattern "$work/data.bin" "$size"
else
  head -c "$size" /dev/urandom > "$work/data.bin"
fi
export FERRY="$PWD/$target/release/ferry" S5CMD="$bin/s5cmd" DATA="$work/data.bin" WORK="$work"
"$target/debug/ferry-testbed" "${flag[@]}" -- bash -c '
set -euo pipefail
ep=${FERRY_TEST_NULL_SINK:-${FERRY_TEST_SEAWEEDFS:-}}
"$FERRY" mb s3://bench >/dev/null
"$FERRY" cp "$DATA" s3://bench/obj --quiet --state-dir "$WORK/state"
for i in 1 2 3; do
  /usr/bin/time -f "ferry  %e s wall  %U s user  %S s sys  %M KiB peak RSS" \
    "$FERRY" cp s3://bench/obj "$WORK/ferry.out" --quiet
  /usr/bin/time -f "s5cmd  %e s wall  %U s user  %S s sys  %M KiB peak RSS" \
    "$S5CMD" --endpoint-url "$ep" cp -c 8 -p 16 s3://bench/obj "$WORK/s5cmd.out" >/dev/null
  if [ "$i" = 1 ]; then
    cmp "$DATA" "$WORK/ferry.out" && cmp "$DATA" "$WORK/s5cmd.out" && echo "outputs identical"
  fi
  rm -f "$WORK/ferry.out" "$WORK/s5cmd.out"
done
'
