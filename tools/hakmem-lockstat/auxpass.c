/* auxpass.c - a second read of the trace for what the reader library
 * (trace/reader.h) does not decode: strings other than lock names and
 * sequences.  It collects
 *   - object load addresses: lttng_ust_statedump:bin_info/build_id (the
 *     statedump at registration), lttng_ust_lib:load/build_id (objects
 *     loaded later), lttng_ust_dl:dlopen/build_id (liblttng-ust-dl);
 *   - hakmem:lock_stack call stacks (HAKMEM_LOCK_STACKS=1).
 * The reader's own graph hands over the raw messages (hkr_read_messages).
 * Fields are looked up by name, but only for these few event classes (the
 * class of every other event is classified once and skipped).
 *
 * It runs in this process, only after hkr_read (which runs babeltrace2 in
 * a child process, so a babeltrace2 crash on a damaged trace is an error)
 * read the same files to the end without an error: babeltrace2 decodes
 * the same bytes the same way here (hkr_read_messages' condition).
 */
#include "lockstat.h"
#include "reader.h"

#include <babeltrace2/babeltrace.h>
#include <stdlib.h>
#include <string.h>

enum { EV_SKIP = 1, EV_OBJECT, EV_BUILD_ID, EV_STACK };

typedef struct cls_kind { const bt_event_class *ec; int kind; } cls_kind;

typedef struct aux {
    ls_procs    *procs;
    aux_stack_fn fn;
    void        *arg;
    cls_kind    *tab;
    size_t       tab_cap, tab_n;
} aux;

static int classify(const char *n) {
    if (!n) return EV_SKIP;
    if (!strcmp(n, "lttng_ust_statedump:bin_info") || !strcmp(n, "lttng_ust_lib:load") ||
        !strcmp(n, "lttng_ust_dl:dlopen"))
        return EV_OBJECT;
    if (!strcmp(n, "lttng_ust_statedump:build_id") || !strcmp(n, "lttng_ust_lib:build_id") ||
        !strcmp(n, "lttng_ust_dl:build_id"))
        return EV_BUILD_ID;
    if (!strcmp(n, "hakmem:lock_stack")) return EV_STACK;
    return EV_SKIP;
}

static int kind_of(aux *a, const bt_event_class *ec) {
    size_t k = hash64((uint64_t)(uintptr_t)ec) & (a->tab_cap - 1);
    for (; a->tab[k].ec; k = (k + 1) & (a->tab_cap - 1))
        if (a->tab[k].ec == ec) return a->tab[k].kind;
    int kind = classify(bt_event_class_get_name(ec));
    a->tab[k].ec = ec;
    a->tab[k].kind = kind;
    if (++a->tab_n * 2 > a->tab_cap) {
        size_t cap = a->tab_cap * 2;
        cls_kind *t = xcalloc(cap, sizeof *t);
        for (size_t i = 0; i < a->tab_cap; i++) {
            if (!a->tab[i].ec) continue;
            size_t j = hash64((uint64_t)(uintptr_t)a->tab[i].ec) & (cap - 1);
            while (t[j].ec) j = (j + 1) & (cap - 1);
            t[j] = a->tab[i];
        }
        free(a->tab);
        a->tab = t;
        a->tab_cap = cap;
    }
    return kind;
}

static const bt_field *member(const bt_field *s, const char *name) {
    if (!s || bt_field_get_class_type(s) != BT_FIELD_CLASS_TYPE_STRUCTURE) return NULL;
    return bt_field_structure_borrow_member_field_by_name_const(s, name);
}

/* Integer member (signed or unsigned); 0 when present. */
static int get_int(const bt_field *s, const char *name, uint64_t *v) {
    const bt_field *f = member(s, name);
    if (!f) return -1;
    bt_field_class_type t = bt_field_get_class_type(f);
    if (bt_field_class_type_is(t, BT_FIELD_CLASS_TYPE_UNSIGNED_INTEGER))
        *v = bt_field_integer_unsigned_get_value(f);
    else if (bt_field_class_type_is(t, BT_FIELD_CLASS_TYPE_SIGNED_INTEGER))
        *v = (uint64_t)bt_field_integer_signed_get_value(f);
    else
        return -1;
    return 0;
}

static const char *get_str(const bt_field *s, const char *name) {
    const bt_field *f = member(s, name);
    if (!f || bt_field_get_class_type(f) != BT_FIELD_CLASS_TYPE_STRING) return NULL;
    return bt_field_string_get_value(f);
}

/* Unsigned integer array member into out[max]; returns the count or -1. */
static int get_array(const bt_field *s, const char *name, uint64_t *out, uint64_t max) {
    const bt_field *f = member(s, name);
    if (!f || !bt_field_class_type_is(bt_field_get_class_type(f), BT_FIELD_CLASS_TYPE_ARRAY))
        return -1;
    uint64_t n = bt_field_array_get_length(f);
    if (n > max) n = max;
    for (uint64_t i = 0; i < n; i++) {
        const bt_field *x = bt_field_array_borrow_element_field_by_index_const(f, i);
        if (!x) return -1;
        bt_field_class_type t = bt_field_get_class_type(x);
        if (bt_field_class_type_is(t, BT_FIELD_CLASS_TYPE_UNSIGNED_INTEGER))
            out[i] = bt_field_integer_unsigned_get_value(x);
        else if (bt_field_class_type_is(t, BT_FIELD_CLASS_TYPE_SIGNED_INTEGER))
            out[i] = (uint64_t)bt_field_integer_signed_get_value(x);
        else
            return -1;
    }
    return (int)n;
}

static void on_event(aux *a, const bt_message *msg) {
    const bt_event *e = bt_message_event_borrow_event_const(msg);
    int kind = kind_of(a, bt_event_borrow_class_const(e));
    if (kind == EV_SKIP) return;
    const bt_field *pl = bt_event_borrow_payload_field_const(e);
    const bt_field *ctx = bt_event_borrow_common_context_field_const(e);
    uint64_t vpid = (uint64_t)-1, vtid = (uint64_t)-1;
    int64_t ts = 0;
    if (ctx) {
        if (get_int(ctx, "vpid", &vpid) != 0) vpid = (uint64_t)-1;
        if (get_int(ctx, "vtid", &vtid) != 0) vtid = (uint64_t)-1;
    }
    const bt_stream_class *sc = bt_stream_borrow_class_const(bt_event_borrow_stream_const(e));
    if (bt_stream_class_borrow_default_clock_class_const(sc)) {
        const bt_clock_snapshot *cs = bt_message_event_borrow_default_clock_snapshot_const(msg);
        if (bt_clock_snapshot_get_ns_from_origin(cs, &ts) !=
            BT_CLOCK_SNAPSHOT_GET_NS_FROM_ORIGIN_STATUS_OK)
            ts = 0;
    }
    uint64_t baddr, memsz, pic = 1, seq, lock;
    if (kind == EV_OBJECT) {
        const char *path = get_str(pl, "path");
        if (get_int(pl, "baddr", &baddr) || get_int(pl, "memsz", &memsz) || !path) return;
        get_int(pl, "is_pic", &pic);
        procs_add_object(a->procs, (int64_t)vpid, baddr, memsz, path, pic != 0);
    } else if (kind == EV_BUILD_ID) {
        uint64_t id[64];
        uint8_t b[64];
        if (get_int(pl, "baddr", &baddr)) return;
        int n = get_array(pl, "build_id", id, 64);
        if (n <= 0) return;
        for (int i = 0; i < n; i++) b[i] = (uint8_t)id[i];
        procs_add_build_id(a->procs, (int64_t)vpid, baddr, b, (size_t)n);
    } else if (kind == EV_STACK && a->fn) {
        uint64_t pc[LS_MAX_FRAMES];
        if (get_int(pl, "seq", &seq) || get_int(pl, "lock", &lock)) return;
        int n = get_array(pl, "stack", pc, LS_MAX_FRAMES);
        if (n <= 0) return;
        a->fn(a->arg, (int64_t)vpid, (int64_t)vtid, seq, ts, (uint32_t)lock, pc, (uint32_t)n);
    }
}

static int on_message(const bt_message *msg, void *arg) {
    if (bt_message_get_type(msg) == BT_MESSAGE_TYPE_EVENT) on_event(arg, msg);
    return 0;
}

int aux_read(const char *dir, ls_procs *procs, aux_stack_fn fn, void *arg, char *err) {
    aux a = { .procs = procs, .fn = fn, .arg = arg, .tab_cap = 64 };
    a.tab = xcalloc(a.tab_cap, sizeof *a.tab);
    int rc = hkr_read_messages(dir, on_message, &a, err);
    free(a.tab);
    return rc == 0 ? 0 : -1;
}
