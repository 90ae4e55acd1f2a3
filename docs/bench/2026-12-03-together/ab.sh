#!/usr/bin/env bash
# A/B of two ferry builds and s5cmd downloading 2,000 x 64 KiB, alternating, from the repo root
# inside ferry-testbed (which sets AWS_ENDPOINT_URL):
#   target/debug/ferry-testbed -- bash docs/bench/2026-12-03-together/ab.sh ROUNDS BIN_A BIN_B
# ABW=DIR: the work folder (default under $TMPDIR); ABRM=1: remove each download after it.
set -eu
R=$1; A=$2; B=$3
S5=${S5CMD:-$PWD/.cache/venv/bin/s5cmd}
W=${ABW:-${TMPDIR:-/tmp}/ferry-ab}; rm -rf $W; mkdir -p $W/src
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-any} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-any} AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
python3 - <<PY
import os
for i in range(2000):
    open(f"$W/src/o{i:04}","wb").write(os.urandom(65536))
PY
$A mb s3://abab >/dev/null 2>&1 || true
$A cp -r $W/src s3://abab/src/ >/dev/null
sync
run() { # name cmd...
  local name=$1; shift
  local t0=$(date +%s.%N)
  /usr/bin/time -f "%U %S" -o $W/t "$@" >/dev/null 2>$W/err || { echo "FAIL $name"; cat $W/err; }
  local t1=$(date +%s.%N)
  echo "$name $(echo "$t1 - $t0" | bc) $(awk '{print $1+$2}' $W/t)"
}
n=0
for r in $(seq $R); do
  for t in A B S; do
    n=$((n+1)); out=$W/out$n; mkdir -p $out; sync; sleep 0.5
    case $t in
      A) run A $A cp -r s3://abab/src/ $out/ ;;
      B) run B $B cp -r s3://abab/src/ $out/ ;;
      S) run S $S5 --endpoint-url $AWS_ENDPOINT_URL cp "s3://abab/src/*" $out/ ;;
    esac
    [ -z "${ABRM:-}" ] || rm -rf $out
  done
done | tee $W/res
python3 - $W/res <<PY
import sys,statistics as s
d={}
for l in open(sys.argv[1]):
    p=l.split()
    if len(p)==3: d.setdefault(p[0],[]).append((float(p[1]),float(p[2])))
for k,v in sorted(d.items()):
    print(k, "wall med %.3f"%s.median(x[0] for x in v), "cpu med %.3f"%s.median(x[1] for x in v), "n",len(v))
PY
rm -rf $W
