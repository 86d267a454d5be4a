/* auxpass.c - a second read of the trace for what the reader library
 * (trace/reader.h) does not decode: strings other than lock names and
 * sequences.  It collects
 *   - object load addresses: lttng_ust_statedump:bin_info/build_id (the
 *     statedump at registration), lttng_ust_lib:load/build_id (objects
 *     loaded later), lttng_ust_dl:dlopen/build_id (liblttng-ust-dl);
 *   - hakmem:lock_stack call stacks (HAKMEM_LOCK_STACKS=1).
 * Same graph as the reader: source.ctf.fs over every directory holding a
 * `metadata` file -> filter.utils.muxer -> a simple sink.  Fields are
 * looked up by name, but only for these few event classes (the class of
 * every other event is classified once and skipped).
 *
 * It runs in this process, only after hkr_read (which runs babeltrace2 in
 * a child process, so a babeltrace2 crash on a damaged trace is an error)
 * read the same files to the end without an error: babeltrace2 decodes
 * the same bytes the same way here.  As in the reader, an error pending
 * after a run that ended OK means a stream was cut short (2.0.4 drops the
 * error): it fails the pass, and none is left pending for the next
 * babeltrace2 call (that is a precondition failure: abort).
 */
#include "lockstat.h"
#include "reader.h"

#include <babeltrace2/babeltrace.h>
#include <stdarg.h>
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
    int          failed;
    char        *err;
    size_t       errlen;
} aux;

static void seterr(aux *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void seterr(aux *a, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->err, a->errlen, fmt, ap);
    va_end(ap);
}

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

static bt_graph_simple_sink_component_consume_func_status consume(bt_message_iterator *it,
                                                                  void *data) {
    aux *a = data;
    bt_message_array_const msgs;
    uint64_t count;
    switch (bt_message_iterator_next(it, &msgs, &count)) {
    case BT_MESSAGE_ITERATOR_NEXT_STATUS_OK: break;
    case BT_MESSAGE_ITERATOR_NEXT_STATUS_END:
        return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_END;
    case BT_MESSAGE_ITERATOR_NEXT_STATUS_AGAIN:
        return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_AGAIN;
    case BT_MESSAGE_ITERATOR_NEXT_STATUS_MEMORY_ERROR:
        return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_MEMORY_ERROR;
    default:
        return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_ERROR;
    }
    for (uint64_t i = 0; i < count; i++) {
        if (bt_message_get_type(msgs[i]) == BT_MESSAGE_TYPE_EVENT) on_event(a, msgs[i]);
        bt_message_put_ref(msgs[i]);
    }
    return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_OK;
}

static void bt_err(aux *a, const char *dir, const char *what) {
    const bt_error *err = bt_current_thread_take_error();
    const char *m = NULL;
    if (err) {
        for (uint64_t i = bt_error_get_cause_count(err); i-- > 0 && !m;) {
            const char *x = bt_error_cause_get_message(bt_error_borrow_cause_by_index(err, i));
            if (x && *x) m = x;
        }
    }
    char one[256];
    printable(one, sizeof one, m ? m : "babeltrace2 failed");
    seterr(a, "%s: cannot read trace%s: %s", dir, what, one);
    if (err) bt_error_release(err);
}

int aux_read(const char *dir, ls_procs *procs, aux_stack_fn fn, void *arg, char *errbuf,
             size_t errlen) {
    aux a;
    memset(&a, 0, sizeof a);
    a.procs = procs;
    a.fn = fn;
    a.arg = arg;
    a.err = errbuf;
    a.errlen = errlen;
    a.tab_cap = 64;
    a.tab = xcalloc(a.tab_cap, sizeof *a.tab);
    char rerr[HKR_ERRLEN] = "";
    char **dirs = NULL;
    int ndirs = hkr_find_traces(dir, &dirs, rerr);
    if (ndirs <= 0) {
        seterr(&a, "%s", ndirs < 0 ? rerr : "no LTTng trace below it");
        free(a.tab);
        return -1;
    }
    int ret = -1;
    bt_current_thread_clear_error();
    const bt_plugin *ctf = NULL, *utils = NULL;
    bt_graph *g = NULL;
    bt_value *params = NULL, *inputs = NULL;
    const bt_component_source *src = NULL;
    const bt_component_filter *mux = NULL;
    const bt_component_sink *sink = NULL;
    if (bt_plugin_find("ctf", BT_TRUE, BT_TRUE, BT_TRUE, BT_TRUE, BT_FALSE, &ctf) !=
            BT_PLUGIN_FIND_STATUS_OK || !ctf ||
        bt_plugin_find("utils", BT_TRUE, BT_TRUE, BT_TRUE, BT_TRUE, BT_FALSE, &utils) !=
            BT_PLUGIN_FIND_STATUS_OK || !utils) {
        bt_current_thread_clear_error();
        seterr(&a, "babeltrace2 plugins 'ctf'/'utils' not found (is babeltrace2 installed?)");
        goto out;
    }
    const bt_component_class_source *fs =
        bt_plugin_borrow_source_component_class_by_name_const(ctf, "fs");
    const bt_component_class_filter *muxer =
        bt_plugin_borrow_filter_component_class_by_name_const(utils, "muxer");
    if (!fs || !muxer) {
        seterr(&a, "babeltrace2 lacks source.ctf.fs or filter.utils.muxer");
        goto out;
    }
    g = bt_graph_create(0);
    params = bt_value_map_create();
    inputs = bt_value_array_create();
    if (!g || !params || !inputs) { seterr(&a, "out of memory"); goto out; }
    for (int i = 0; i < ndirs; i++)
        if (bt_value_array_append_string_element(inputs, dirs[i]) !=
            BT_VALUE_ARRAY_APPEND_ELEMENT_STATUS_OK) {
            seterr(&a, "out of memory");
            goto out;
        }
    if (bt_value_map_insert_entry(params, "inputs", inputs) != BT_VALUE_MAP_INSERT_ENTRY_STATUS_OK) {
        seterr(&a, "out of memory");
        goto out;
    }
    if (bt_graph_add_source_component(g, fs, "source", params, BT_LOGGING_LEVEL_NONE, &src) !=
            BT_GRAPH_ADD_COMPONENT_STATUS_OK ||
        bt_graph_add_filter_component(g, muxer, "muxer", NULL, BT_LOGGING_LEVEL_NONE, &mux) !=
            BT_GRAPH_ADD_COMPONENT_STATUS_OK ||
        bt_graph_add_simple_sink_component(g, "sink", NULL, consume, NULL, &a, &sink) !=
            BT_GRAPH_ADD_COMPONENT_STATUS_OK) {
        bt_err(&a, dir, "");
        goto out;
    }
    uint64_t nout = bt_component_source_get_output_port_count(src);
    for (uint64_t i = 0; i < nout; i++) {
        const bt_port_output *op = bt_component_source_borrow_output_port_by_index_const(src, i);
        uint64_t nin = bt_component_filter_get_input_port_count(mux);
        const bt_port_input *ip = bt_component_filter_borrow_input_port_by_index_const(mux, nin - 1);
        if (bt_graph_connect_ports(g, op, ip, NULL) != BT_GRAPH_CONNECT_PORTS_STATUS_OK) {
            bt_err(&a, dir, "");
            goto out;
        }
    }
    if (bt_graph_connect_ports(g, bt_component_filter_borrow_output_port_by_index_const(mux, 0),
                               bt_component_sink_borrow_input_port_by_index_const(sink, 0),
                               NULL) != BT_GRAPH_CONNECT_PORTS_STATUS_OK) {
        bt_err(&a, dir, "");
        goto out;
    }
    bt_graph_run_status st;
    do {
        st = bt_graph_run(g);
    } while (st == BT_GRAPH_RUN_STATUS_AGAIN);
    if (st != BT_GRAPH_RUN_STATUS_OK) {
        bt_err(&a, dir, "");
        goto out;
    }
    const bt_error *pending = bt_current_thread_take_error();
    if (pending) {
        bt_current_thread_move_error(pending);
        bt_err(&a, dir, " (second pass): a stream ends early");
        goto out;
    }
    ret = 0;
out:
    bt_value_put_ref(inputs);
    bt_value_put_ref(params);
    bt_graph_put_ref(g);
    bt_plugin_put_ref(ctf);
    bt_plugin_put_ref(utils);
    hkr_free_dirs(dirs, ndirs);
    free(a.tab);
    return ret;
}
