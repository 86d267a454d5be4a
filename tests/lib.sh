# lib.sh - shell helpers for hakmem's script tests (sourced, never run).
#
#   . "$(dirname "$0")/../lib.sh"      (from tests/programs/)
#   hk_setup                           HAKMEM_ROOT, BUILD (absolute), HK_LIB, HK_TMP
#   hk_need PROG...                    a missing program is a FAIL, never a skip
#   hk_check_preload BIN               BIN is dynamic and would load libhakmem.so
#   hk_same NAME CMD [ARGS...]         run CMD without and with the preload;
#                                      exit status, stdout and stderr must match
#   hk_same_file NAME F_REF F_HAK      two outputs must be byte-identical
#   hk_fail MSG                        one line on stderr, exit 1
#
# Set HK_STDERR=ignore before hk_same for a program whose stderr is not
# reproducible; hakmem diagnostics are still caught then.
# Commands run with a time limit (HK_TIMEOUT seconds, default 120).

hk_fail() {
    echo "FAIL: $*" >&2
    exit 1
}

hk_setup() {
    HAKMEM_ROOT=${HAKMEM_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
    BUILD=${BUILD:-build}
    case $BUILD in /*) ;; *) BUILD=$HAKMEM_ROOT/$BUILD ;; esac
    HK_LIB=$BUILD/libhakmem.so
    [ -f "$HK_LIB" ] || hk_fail "$HK_LIB does not exist (run make first)"
    HK_TIMEOUT=${HK_TIMEOUT:-120}
    HK_TMP=$(mktemp -d /tmp/hakmem-test.XXXXXX) || hk_fail "mktemp failed"
    trap 'rm -rf "$HK_TMP"' EXIT
    trap 'exit 1' INT TERM
    export HAKMEM_ROOT BUILD
    # Reproducible outputs: same locale, no colour, fixed time zone.
    LC_ALL=C; TZ=UTC
    export LC_ALL TZ
}

hk_need() {
    for p in "$@"; do
        command -v "$p" >/dev/null 2>&1 || hk_fail "required program '$p' is not installed"
    done
}

# The dynamic loader must put libhakmem.so into BIN when preloaded: this
# catches static binaries, setuid programs and a broken library, any of
# which would make the comparison below pass without testing anything.
hk_check_preload() {
    bin=$(command -v "$1") || hk_fail "required program '$1' is not installed"
    out=$(LD_TRACE_LOADED_OBJECTS=1 LD_PRELOAD="$HK_LIB" "$bin" 2>&1) ||
        hk_fail "$bin: the loader cannot list its libraries: $out"
    case $out in
        *"$HK_LIB"*) ;;
        *) hk_fail "$bin would not load $HK_LIB under LD_PRELOAD (static or setuid binary?)" ;;
    esac
}

# A hakmem diagnostic or a loader error in a preloaded run is always a bug.
hk_scan_stderr() { # name file
    if grep -E -q '^hakmem|ERROR: ld\.so|cannot be preloaded|hakmem: ' "$2"; then
        echo "FAIL: $1: allocator or loader diagnostics under LD_PRELOAD:" >&2
        grep -E '^hakmem|ERROR: ld\.so|cannot be preloaded|hakmem: ' "$2" | head -5 >&2
        exit 1
    fi
}

hk_same() { # name cmd args...
    name=$1; shift
    ref=$HK_TMP/$name.ref; hak=$HK_TMP/$name.hak
    timeout -k 5 "$HK_TIMEOUT" "$@" >"$ref.out" 2>"$ref.err"
    rs=$?
    LD_PRELOAD="$HK_LIB" timeout -k 5 "$HK_TIMEOUT" "$@" >"$hak.out" 2>"$hak.err"
    hs=$?
    hk_scan_stderr "$name" "$hak.err"
    if [ $rs -ne $hs ]; then
        echo "FAIL: $name: exit status $rs without hakmem, $hs with it" >&2
        echo "--- stderr with hakmem:" >&2; tail -n 15 "$hak.err" >&2
        exit 1
    fi
    if ! cmp -s "$ref.out" "$hak.out"; then
        echo "FAIL: $name: stdout differs with LD_PRELOAD=$HK_LIB" >&2
        diff "$ref.out" "$hak.out" | head -n 20 >&2
        exit 1
    fi
    if [ "${HK_STDERR:-compare}" != ignore ] && ! cmp -s "$ref.err" "$hak.err"; then
        echo "FAIL: $name: stderr differs with LD_PRELOAD=$HK_LIB" >&2
        diff "$ref.err" "$hak.err" | head -n 20 >&2
        exit 1
    fi
    [ $rs -eq 0 ] || hk_fail "$name: exit status $rs in both runs (the test command itself fails)"
    echo "ok: $name ($(wc -c <"$ref.out") bytes of identical output)"
}

hk_same_file() { # name ref hak
    [ -f "$2" ] || hk_fail "$1: $2 was not produced"
    [ -f "$3" ] || hk_fail "$1: $3 was not produced"
    cmp -s "$2" "$3" || hk_fail "$1: $2 and $3 differ"
    echo "ok: $1 (identical, $(wc -c <"$2") bytes)"
}
