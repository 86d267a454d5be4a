#!/bin/sh
# Installs the Debian packages hakmem needs to build, test and benchmark.
# Idempotent: silent when everything is present. Run by `make deps`, and by
# `make demo` / `make test` when something is missing.
set -e

PKGS="build-essential pkg-config liblttng-ust-dev lttng-tools libbabeltrace2-dev babeltrace2
libunwind-dev libncurses-dev tmux libmimalloc2.0 libjemalloc2 libtcmalloc-minimal4
python3 perl git xz-utils coreutils clang libclang-rt-14-dev
nodejs openjdk-17-jdk-headless gdb"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "hakmem setup: missing Debian packages:$missing" >&2
    echo "hakmem setup: run 'sudo make deps' (or: sudo apt-get install -y$missing)" >&2
    exit 1
fi

echo "hakmem setup: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "hakmem setup: done"
