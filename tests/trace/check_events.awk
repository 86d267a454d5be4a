# check_events.awk - checks babeltrace2's text output of a tp_workload
# capture, independently of hakmem's own reader (tests/trace/trace_capture.sh).
#   awk -v pid=P -v child=C -v mark_begin=B -v mark_end=E -v child_mark=M \
#       -f check_events.awk babeltrace2.txt
# Only events of vpid P and C are checked (trace_capture.sh checks that
# there are no others).  Prints:
#   count NAME N          events per name (both processes)
#   bad NAME: why: line   a field that is not plausible (at most 30)
#   stage S N             sp_acquire events per stage
#   counted N             malloc events of P's main thread strictly between
#                         the MARK_BEGIN and MARK_END mallocs
#   child_mark VPID VTID  the vpid/vtid of malloc(child_mark)
#   gaps N                jumps in a (vpid, vtid) sequence (per set)
#   lines N               events of any process

function hexval(s,    v, i, c) {
    v = 0
    s = tolower(s)
    sub(/^0x/, "", s)
    for (i = 1; i <= length(s); i++) {
        c = index("0123456789abcdef", substr(s, i, 1))
        if (c == 0) return -1
        v = v * 16 + (c - 1)
    }
    return v
}
# Value of a field: hex or decimal, -1 when absent.
function val(k,    s) {
    if (!(k in F)) return -1
    s = F[k]
    if (s ~ /^0[xX]/) return hexval(s)
    return s + 0
}
# The low `bits` bits of a hex pointer are zero (exact on the low digits).
function aligned(k, bits,    s, d) {
    s = tolower(F[k])
    sub(/^0x/, "", s)
    d = int((bits + 3) / 4)
    while (length(s) < d) s = "0" s
    return hexval(substr(s, length(s) - d + 1)) % (2 ^ bits) == 0
}
function bad(why) {
    nbad++
    if (nbad <= 30) print "bad " name ": " why ": " substr($0, 1, 300)
}
function tiny(k) { return val(k) >= 0 && val(k) <= 7 }

{
    lines++
    name = ""
    for (i = 1; i <= NF; i++)
        if ($i ~ /^[a-z_0-9]+:[a-z_0-9]+:$/) { name = substr($i, 1, length($i) - 1); break }
    if (name !~ /^hakmem:/) next
    delete F
    rest = $0
    while (match(rest, /[a-z_]+ = ("[^"]*"|[^,} ]+)/)) {
        kv = substr(rest, RSTART, RLENGTH)
        rest = substr(rest, RSTART + RLENGTH)
        eq = index(kv, " = ")
        F[substr(kv, 1, eq - 1)] = substr(kv, eq + 3)
    }
    vp = val("vpid"); vt = val("vtid")
    if (vp != pid && vp != child) next
    sub(/^hakmem:/, "", name)
    count[name]++

    # sequence per (vpid, vtid) and set (the replay set and the other
    # events are numbered apart); 0 starts a new thread (reused tid)
    key = vp "/" vt "/" (name ~ /^(malloc|free|calloc|realloc|memalign|thread_start|thread_exit)$/)
    s = val("seq")
    if (s < 0) bad("no seq")
    else if ((key in last) && s != 0 && s != last[key] + 1) {
        gaps++
        if (gaps <= 10) print "gap " key ": " last[key] " -> " s
    }
    last[key] = s

    if (name == "malloc") {
        if (val("ptr") <= 0) bad("null ptr")
        if (val("size") <= 0) bad("size")
        if (val("size") > 8 && !aligned("ptr", 4)) bad("not 16-byte aligned")
        if (!tiny("cls") && val("cls") != 255) bad("cls")
        if (val("caller") <= 0) bad("caller")
        if (vp == pid && vt == pid) {
            if (val("size") == mark_begin) { inside = 1; counted = 0 }
            else if (val("size") == mark_end) inside = 0
            else if (inside) counted++
        }
        if (val("size") == child_mark) print "child_mark " vp " " vt
    } else if (name == "free") {
        if (val("ptr") <= 0 || val("size") <= 0) bad("ptr/size")
        if (!tiny("cls") && val("cls") != 255) bad("cls")
        if (val("caller") <= 0) bad("caller")
    } else if (name == "calloc") {
        if (val("ptr") <= 0 || val("nmemb") * val("size") <= 0) bad("ptr/nmemb/size")
        if (val("caller") <= 0) bad("caller")
    } else if (name == "realloc") {
        if (val("old_ptr") <= 0 && val("ptr") <= 0) bad("no pointer")
        if (val("ptr") > 0 && val("size") <= 0) bad("size")
        if (val("caller") <= 0) bad("caller")
    } else if (name == "memalign") {
        a = val("align")
        if (val("ptr") <= 0 || a <= 0) bad("ptr/align")
        else if (a <= 1048576) {
            b = 0; while (2 ^ b < a) b++
            if (2 ^ b != a) bad("align not a power of two")
            else if (!aligned("ptr", b)) bad("ptr not aligned to align")
        }
    } else if (name == "thread_start" || name == "thread_exit") {
        if (val("tid") <= 0) bad("tid")
    } else if (name == "ultrahot_hit" || name == "ultrahot_miss") {
        if (!tiny("cls")) bad("cls")
    } else if (name == "sll_refill") {
        if (!tiny("cls") || val("blocks") < 1 || val("cap") < 1) bad("cls/blocks/cap")
    } else if (name == "sll_drain") {
        if (!tiny("cls") || val("blocks") < 0 || val("reason") < 0) bad("cls/blocks/reason")
    } else if (name == "sp_acquire") {
        st = val("stage")
        if (st < 1 || st > 3) bad("stage")
        else stage[st]++
        if (!tiny("cls") || val("slab") <= 0 || !aligned("slab", 16)) bad("cls/slab")
    } else if (name == "sp_release") {
        if (!tiny("cls") || val("slab") <= 0 || !aligned("slab", 16)) bad("cls/slab")
    } else if (name ~ /^(ss_map|ss_unmap|lru_push|lru_pop|lru_evict)$/) {
        if (val("ss") <= 0 || !aligned("ss", 21)) bad("ss not a 2 MiB segment")
    } else if (name == "remote_push" || name == "remote_drain") {
        if (val("slab") <= 0 || val("blocks") < 1) bad("slab/blocks")
    } else if (name == "slab_orphan" || name == "slab_adopt") {
        if (!tiny("cls") || val("slab") <= 0 || !aligned("slab", 16) || val("used") < 1)
            bad("cls/slab/used")
    } else if (name == "mid_refill") {
        if (val("size") <= 1024 || val("size") > 32768 || val("blocks") < 1) bad("size/blocks")
    } else if (name == "l25_refill") {
        if (val("size") <= 32768 || val("size") > 1048576 || val("blocks") < 1) bad("size/blocks")
    } else if (name ~ /^(large_map|large_unmap|bigcache_hit)$/) {
        if (val("ptr") <= 0 || !aligned("ptr", 12) || val("size") <= 1048576) bad("ptr/size")
    } else if (name == "bigcache_miss") {
        if (val("size") <= 1048576) bad("size")
    } else if (name ~ /^lock_(contended|acquired|released)$/) {
        if (F["name"] == "" || F["name"] == "\"\"" || val("caller") <= 0 || val("lock") < 0)
            bad("name/caller/lock")
    }
}

END {
    for (n in count) print "count " n " " count[n]
    for (s = 1; s <= 3; s++) print "stage " s " " (stage[s] + 0)
    print "counted " (counted + 0)
    print "gaps " (gaps + 0)
    print "nbad " (nbad + 0)
    print "lines " (lines + 0)
}
