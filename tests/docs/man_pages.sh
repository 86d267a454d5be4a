#!/bin/sh
# The man pages stay true to the tools: each docs/man/hakmem-*.1 renders
# without a groff warning, names the tool's version, and its SYNOPSIS and
# OPTIONS sections list exactly the long options the tool's --help lists
# (for hakmem-replay: the help of every command), no more, no fewer.
# `make install PREFIX=...` installs them (with the library, the header,
# hakmem.pc and the tools): checked here with `make -n` (what it would run),
# so the test never rebuilds anything.
. "$(dirname "$0")/../lib.sh"
hk_setup
hk_need groff make
cd "$HAKMEM_ROOT" || hk_fail "cannot cd to $HAKMEM_ROOT"

render() { # man page -> plain text, wide, no hyphenation
    LC_ALL=C groff -man -Tascii -rLL=250n -rHY=0 -P-c -P-b -P-u "$1" 2>&1
}
# Long options in the unindented sections $2 (a regex) of text $1.
section_opts() {
    awk -v want="$2" '/^[A-Z][A-Z ]*$/ { on = ($0 ~ want) } on' "$1" |
        grep -o -- '--[a-z][a-z0-9-]*' | sort -u
}

n=0
for t in trace top replay lockstat; do
    tool=$BUILD/hakmem-$t
    page=docs/man/hakmem-$t.1
    [ -x "$tool" ] || hk_fail "$tool is missing (run make first)"
    [ -f "$page" ] || hk_fail "$page is missing"
    warn=$(LC_ALL=C groff -man -Tutf8 -ww -z "$page" 2>&1)
    [ -z "$warn" ] || hk_fail "$page: groff warnings: $warn"
    render "$page" >"$HK_TMP/$t.txt"
    version=$("$tool" --version | awk '{ print $2 }')
    grep -q "hakmem $version" "$HK_TMP/$t.txt" || hk_fail "$page does not say hakmem $version"
    section_opts "$HK_TMP/$t.txt" '^(SYNOPSIS|OPTIONS)$' >"$HK_TMP/$t.man"
    { "$tool" --help
      if [ $t = replay ]; then
          for c in convert info dump run reduce; do "$tool" $c --help; done
      fi; } >"$HK_TMP/$t.helptext" 2>&1
    # The tool's own options: those that start an option line, or stand in
    # brackets in a usage line (not another tool's, named in the prose).
    { grep -oE '^ *(-[A-Za-z0-9], )?--[a-z][a-z0-9-]*' "$HK_TMP/$t.helptext"
      grep -oE '\[ *--[a-z][a-z0-9-]*' "$HK_TMP/$t.helptext"
    } | grep -o -- '--[a-z][a-z0-9-]*' | sort -u >"$HK_TMP/$t.help"
    [ -s "$HK_TMP/$t.help" ] || hk_fail "hakmem-$t --help lists no option"
    extra=$(comm -23 "$HK_TMP/$t.man" "$HK_TMP/$t.help" | tr '\n' ' ')
    missing=$(comm -13 "$HK_TMP/$t.man" "$HK_TMP/$t.help" | tr '\n' ' ')
    [ -z "$extra" ] || hk_fail "$page documents options hakmem-$t --help does not have: $extra"
    [ -z "$missing" ] || hk_fail "$page lacks options of hakmem-$t --help: $missing"
    echo "ok: $page: $(wc -l <"$HK_TMP/$t.man") options, as in --help"
    n=$((n + 1))
done

# make install: the man pages go to PREFIX/share/man/man1 with the rest.
plan=$(make -n --no-print-directory -o all install PREFIX="$HK_TMP/prefix" 2>&1) ||
    hk_fail "make -n install failed: $plan"
for want in 'share/man/man1' 'hakmem-trace.1' 'hakmem-top.1' 'hakmem-replay.1' 'hakmem-lockstat.1' \
            'libhakmem.so' 'libhakmem-tp.so' 'include/hakmem.h' 'hakmem.pc' 'bin/'; do
    printf '%s\n' "$plan" | grep -q -- "$want" || hk_fail "make install would not install $want"
done
echo "PASS: $n man pages agree with their tools; make install installs them"
