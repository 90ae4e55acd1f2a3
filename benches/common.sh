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
