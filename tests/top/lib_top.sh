# Shared prologue of the hakmem-top tests (sourced; not a test itself).
# Sets HAKMEM_ROOT and BUILD (absolute), checks the programs every test
# needs, and provides run_py: python3 reading a script on stdin with
# tests/top on its module path (toplib.py).
set -eu
HAKMEM_ROOT=${HAKMEM_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$HAKMEM_ROOT/$BUILD ;; esac
export HAKMEM_ROOT BUILD
for prog in python3 "$@"; do
    command -v "$prog" >/dev/null 2>&1 || { echo "FAIL: $prog is not installed"; exit 1; }
done
for f in "$BUILD/hakmem-top" "$BUILD/libhakmem.so" "$BUILD/tests/progs/stats_workload"; do
    [ -e "$f" ] || { echo "FAIL: $f is missing (run make first)"; exit 1; }
done
run_py() {
    PYTHONPATH="$HAKMEM_ROOT/tests/top${PYTHONPATH:+:$PYTHONPATH}" python3 - "$@"
}
