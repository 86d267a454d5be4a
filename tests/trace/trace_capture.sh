#!/bin/sh
# Capture tp_workload (it drives every box) with hakmem-trace and check the
# trace with babeltrace2 (tests/trace/check_events.awk) and with
# `hakmem-trace stat` (hakmem's reader library):
#   - every event of the provider appears, with plausible fields
#     (lock_stack needs HAKMEM_LOCK_STACKS=1: tests/locks/);
#   - sp_acquire stages 1, 2 and 3 all occur;
#   - malloc events between the workload's markers == its malloc calls ==
#     the allocation counter's delta over the same window;
#   - per-thread sequences (one for the replay set, one for the other
#     events) have no gap (checked twice, independently) and nothing is
#     discarded;
#   - the forked child's events carry the child's vpid (and vtid);
#   - the reader counts exactly the events babeltrace2 prints;
#   - the trace holds the workload and its child, nothing else;
#   - the trace directory is mode 0700; a session daemon we had to start is
#     stopped again.
. "$(dirname "$0")/lib_trace.sh"
ht_setup

up_before=0
ht_sessiond_up && up_before=1

T=$HK_TMP/trace
OUT=$HK_TMP/workload.out
ERR=$HK_TMP/capture.err
# UltraHot magazines are opt-in: on for 16 and 32 B so that every box emits
HAKMEM_ULTRAHOT_MASK=0x06 timeout -k 5 240 "$HT_TRACE" -o "$T" -- "$HT_WORKLOAD" >"$OUT" 2>"$ERR"
rc=$?
[ "$(ht_kv "$OUT" done)" = 1 ] || { cat "$ERR" >&2; hk_fail "the workload did not finish: $(cat "$OUT")"; }
pid=$(ht_kv "$OUT" pid)
child=$(ht_kv "$OUT" child_pid)
[ -n "$pid" ] && [ -n "$child" ] || hk_fail "workload output lacks pid/child_pid"
grep -q "^hakmem-trace: trace: $T\$" "$ERR" || hk_fail "the trace directory is not reported"
[ $rc -eq 0 ] || { cat "$ERR" >&2; hk_fail "hakmem-trace exited $rc"; }
grep -q '^hakmem-trace: no events lost$' "$ERR" || { cat "$ERR" >&2; hk_fail "capture reports loss"; }
[ "$(stat -c %a "$T")" = 700 ] || hk_fail "trace directory mode is $(stat -c %a "$T"), not 700"
if [ $up_before = 0 ] && ht_sessiond_up; then
    hk_fail "hakmem-trace started lttng-sessiond and left it running"
fi
echo "ok: capture ($(grep -c '' "$ERR") lines of report)"

# hakmem's reader: complete trace, counts.
"$HT_TRACE" stat --threads "$T" >"$HK_TMP/stat.txt" 2>&1
rc=$?
[ $rc -eq 0 ] || { cat "$HK_TMP/stat.txt" >&2; hk_fail "hakmem-trace stat reports an incomplete trace"; }
grep -q '^result: complete$' "$HK_TMP/stat.txt" || hk_fail "stat: no 'result: complete'"
grep -q '^sequence gaps: 0 ' "$HK_TMP/stat.txt" || hk_fail "stat: sequence gaps"
grep -q '^events discarded: 0$' "$HK_TMP/stat.txt" || hk_fail "stat: discarded events"
for p in "$pid" "$child"; do
    awk -v p="$p" 'NF == 9 && $1 == p && $8 > 0 { bad = 1 } END { exit bad }' "$HK_TMP/stat.txt" ||
        hk_fail "stat: a thread of process $p has sequence gaps"
    awk -v p="$p" 'NF == 9 && $1 == p { n++ } END { exit !n }' "$HK_TMP/stat.txt" ||
        hk_fail "stat: no thread of process $p"
done
# The replay set and the other events are numbered apart (src/tp.c): the
# main thread's first event of each set has seq 0.
awk -v p="$pid" 'NF == 9 && $1 == p && $2 == p && $4 == 0 && $6 == 0 { ok = 1 } END { exit !ok }' \
    "$HK_TMP/stat.txt" || { cat "$HK_TMP/stat.txt" >&2; hk_fail "stat: the main thread's replay and box sequences do not both start at 0"; }
echo "ok: stat: complete trace, $(sed -n 's/^threads: //p' "$HK_TMP/stat.txt")"

# babeltrace2, checked by awk.
ht_bt "$T" "$HK_TMP/bt.txt"
awk -v pid="$pid" -v child="$child" -v mark_begin="$(ht_kv "$OUT" mark_begin)" \
    -v mark_end="$(ht_kv "$OUT" mark_end)" -v child_mark="$(ht_kv "$OUT" child_mark)" \
    -f "$(dirname "$0")/check_events.awk" "$HK_TMP/bt.txt" >"$HK_TMP/check.txt" ||
    hk_fail "awk failed"
get() { sed -n "s/^$1 //p" "$HK_TMP/check.txt" | head -n 1; }

nbad=$(get nbad)
[ "$nbad" = 0 ] || { grep '^bad ' "$HK_TMP/check.txt" | head -n 20 >&2; hk_fail "$nbad implausible events"; }

missing=""
for ev in ultrahot_hit ultrahot_miss sll_refill sll_drain sp_acquire sp_release ss_map ss_unmap \
          lru_push lru_pop lru_evict remote_push remote_drain slab_orphan slab_adopt \
          mid_refill l25_refill large_map large_unmap bigcache_hit bigcache_miss \
          lock_acquired lock_released malloc free calloc realloc memalign \
          thread_start thread_exit; do
    n=$(get "count $ev")
    [ -n "$n" ] && [ "$n" -gt 0 ] || missing="$missing $ev"
done
[ -z "$missing" ] || hk_fail "events never recorded:$missing"
contended=$(ht_kv "$OUT" lock_contended_counter)
if [ "$contended" != -1 ]; then
    [ "$contended" -gt 0 ] || hk_fail "the workload could not produce lock contention in 10 s"
    n=$(get "count lock_contended")
    [ -n "$n" ] && [ "$n" -gt 0 ] || hk_fail "lock counters saw $contended contended acquisitions, trace has no lock_contended"
else
    hk_fail "the workload found no stats segment (cannot check lock_contended)"
fi
echo "ok: all $(grep -c '^count ' "$HK_TMP/check.txt") event names recorded with plausible fields"

for s in 1 2 3; do
    n=$(get "stage $s")
    [ "$n" -gt 0 ] || hk_fail "sp_acquire stage $s never occurred"
done
echo "ok: sp_acquire stages 1/2/3: $(get 'stage 1')/$(get 'stage 2')/$(get 'stage 3')"

calls=$(ht_kv "$OUT" counted_calls)
allocs=$(ht_kv "$OUT" counted_allocs)
counted=$(get counted)
[ "$counted" = "$calls" ] || hk_fail "malloc events in the counted window: $counted, malloc calls: $calls"
[ "$allocs" = "$calls" ] || hk_fail "allocation counter delta $allocs != $calls malloc calls"
echo "ok: malloc events ($counted) == malloc calls == allocation counter delta ($allocs)"

gaps=$(get gaps)
[ "$gaps" = 0 ] || { grep '^gap ' "$HK_TMP/check.txt" >&2; hk_fail "babeltrace2 shows $gaps sequence gaps"; }

cm=$(get child_mark)
[ "$cm" = "$child $child" ] || hk_fail "the child's malloc carries vpid/vtid '$cm', expected '$child $child'"
echo "ok: no gaps; forked child's events carry its vpid $child"

lines=$(get lines)
recorded=$(sed -n 's/^events recorded: //p' "$HK_TMP/stat.txt")
[ "$lines" = "$recorded" ] || hk_fail "babeltrace2 prints $lines events, the reader counted $recorded"
for ev in malloc free sp_acquire lock_acquired; do
    r=$(awk -v n="hakmem:$ev" '$1 == n { print $2 }' "$HK_TMP/stat.txt")
    b=$(get "count $ev")
    # babeltrace2's count is the workload's; the trace holds nothing else
    [ -n "$r" ] && [ "$r" = "$b" ] || hk_fail "stat counts $r $ev events, babeltrace2 $b"
done
echo "ok: reader and babeltrace2 agree ($lines events)"

# Only the workload and its child are in the trace (hakmem-trace isolates
# its command from other programs on the shared session daemon).
others=$(awk -v p="$pid" -v c="$child" 'NF == 9 && $1 ~ /^[0-9]+$/ && $1 != p && $1 != c { print $1 }' \
    "$HK_TMP/stat.txt" | sort -u | tr '\n' ' ')
[ -z "$others" ] || hk_fail "the trace holds other processes than $pid and $child: $others"
echo "ok: the trace holds processes $pid and $child only"
