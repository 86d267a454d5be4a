/* reader.c - LTTng trace reading over libbabeltrace2 (see reader.h and
 * reader_impl.h): names, finding the traces, and the graph run in the
 * calling process (hkr_read_inproc; hkr_read in reader_child.c runs it in
 * a child process; hkr_read_messages hands out its raw messages).
 *
 * Graph (graph_run, the one place it is built): source.ctf.fs ->
 * filter.utils.muxer -> simple sink, whose consume function hands each
 * message to a function.  hkr_read_inproc's (decode_message) decodes each
 * event through a per-event-class cache: the payload and common-context
 * member indexes that map onto hkr_event slots, resolved by name once,
 * then read by index for every event.
 *
 * babeltrace2 error discipline: every failing call's error is taken
 * (bt_current_thread_take_error) before any other babeltrace2 call, since
 * calling the API with an error pending is a precondition failure (abort)
 * in 2.0.4; and a graph run that ends OK with an error pending means a
 * stream was cut short by a decoding error (2.0.4 drops the error and
 * ends that stream): that is an error too, not a complete read.
 */
#include "reader_impl.h"

#include <babeltrace2/babeltrace.h>
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- names ----------------------------------------------------------- */

_Static_assert(HKR_F_LOCK_NAME < 32, "every field has a bit in hkr_event.has");

static const char *const ev_names[HKR_EV_COUNT] = {
    [HKR_EV_OTHER] = "other",
#define HKR_X_(id, name) [HKR_EV_##id] = #name,
    HKR_EVENTS(HKR_X_)
#undef HKR_X_
};

static const char *const field_names[HKR_F_NINT] = {
#define HKR_X_(id, name) [HKR_F_##id] = #name,
    HKR_FIELDS(HKR_X_)
#undef HKR_X_
};

static const size_t field_off[HKR_F_NINT] = {
#define HKR_X_(id, name) [HKR_F_##id] = offsetof(struct hkr_event, name),
    HKR_FIELDS(HKR_X_)
#undef HKR_X_
};

const char *hkr_event_name(enum hkr_event_id id)
{
    return (unsigned)id < HKR_EV_COUNT ? ev_names[id] : "?";
}

const char *hkr_field_name(enum hkr_field f)
{
    switch ((int)f) {
    case HKR_F_VPID: return "vpid";
    case HKR_F_VTID: return "vtid";
    case HKR_F_TS: return "timestamp";
    case HKR_F_LOCK_NAME: return "name";
    }
    return (unsigned)f < HKR_F_NINT ? field_names[f] : "?";
}

const char *hkr_provider_name(enum hkr_provider p)
{
    switch (p) {
    case HKR_PROV_HAKMEM: return "hakmem";
    case HKR_PROV_LIBC: return "lttng_ust_libc";
    default: return "other";
    }
}

size_t hkr_field_offset(int f)
{
    return field_off[f];
}

uint64_t hkr_field(const struct hkr_event *ev, enum hkr_field f)
{
    if ((unsigned)f >= HKR_F_NINT || !((ev->has >> f) & 1u)) return 0;
    return *(const uint64_t *)((const char *)ev + field_off[f]);
}

static int field_by_name(const char *n)
{
    /* lttng_ust_libc spellings first. */
    if (!strcmp(n, "in_ptr")) return HKR_F_OLD_PTR;
    if (!strcmp(n, "out_ptr")) return HKR_F_PTR;
    if (!strcmp(n, "alignment")) return HKR_F_ALIGN;
    for (int f = 0; f < HKR_F_NINT; f++)
        if (!strcmp(n, field_names[f])) return f;
    return -1;
}

static enum hkr_event_id event_by_name(const char *n)
{
    for (int i = 1; i < HKR_EV_COUNT; i++)
        if (!strcmp(n, ev_names[i])) return (enum hkr_event_id)i;
    return HKR_EV_OTHER;
}

void hkr_classify(const char *full, enum hkr_provider *prov, enum hkr_event_id *id,
                  const char **name)
{
    const char *colon = strchr(full, ':');
    *prov = HKR_PROV_OTHER;
    *name = colon ? colon + 1 : full;
    if (colon) {
        size_t plen = (size_t)(colon - full);
        if (plen == 6 && !strncmp(full, "hakmem", 6)) *prov = HKR_PROV_HAKMEM;
        else if (plen == 14 && !strncmp(full, "lttng_ust_libc", 14)) *prov = HKR_PROV_LIBC;
    }
    *id = *prov != HKR_PROV_OTHER ? event_by_name(*name) : HKR_EV_OTHER;
}

void hkr_stats_discard(struct hkr_stats *st, const struct hkr_discard *d)
{
    if (d->kind == HKR_DISCARDED_EVENTS) {
        st->discard_messages++;
        st->discarded_events += d->has_count ? d->count : 0;
    } else {
        /* Unknown count still means loss: count it as one packet. */
        st->discarded_packets += d->has_count ? d->count : 1;
    }
}

void hkr_seterr(char *errbuf, const char *fmt, ...)
{
    if (!errbuf) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, HKR_ERRLEN, fmt, ap);
    va_end(ap);
}

/* ---- finding the traces --------------------------------------------- */

/* nftw has no user argument: the walk's state is per thread. */
static __thread struct {
    char **v;
    int n, cap, oom;
} walk;

static int walk_fn(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    if (type != FTW_F || strcmp(path + ftw->base, "metadata")) return 0;
    if (walk.n == walk.cap) {
        int cap = walk.cap ? walk.cap * 2 : 8;
        char **v = realloc(walk.v, (size_t)cap * sizeof *v);
        if (!v) { walk.oom = 1; return 1; }
        walk.v = v;
        walk.cap = cap;
    }
    char *d = strndup(path, ftw->base > 1 ? (size_t)ftw->base - 1 : (size_t)ftw->base);
    if (!d) { walk.oom = 1; return 1; }
    walk.v[walk.n++] = d;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void hkr_free_dirs(char **dirs, int n)
{
    for (int i = 0; i < n; i++) free(dirs[i]);
    free(dirs);
}

int hkr_find_traces(const char *dir, char ***out, char errbuf[HKR_ERRLEN])
{
    struct stat st;
    *out = NULL;
    if (stat(dir, &st) != 0) {
        hkr_seterr(errbuf, "%s: %s", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        hkr_seterr(errbuf, "%s: not a directory", dir);
        return -1;
    }
    memset(&walk, 0, sizeof walk);
    /* FTW_PHYS does not follow links below; the top may be one. */
    char *real = realpath(dir, NULL);
    int rc = nftw(real ? real : dir, walk_fn, 32, FTW_PHYS);
    free(real);
    if (rc != 0 || walk.oom) {
        int e = walk.oom ? ENOMEM : errno;
        hkr_free_dirs(walk.v, walk.n);
        errno = e;
        hkr_seterr(errbuf, "%s: cannot search for traces: %s", dir, strerror(e));
        return -1;
    }
    if (walk.n) qsort(walk.v, (size_t)walk.n, sizeof *walk.v, cmp_str);
    *out = walk.v;
    return walk.n;
}

int hkr_trace_dirs(const char *dir, char ***dirs, char *errbuf)
{
    int n = hkr_find_traces(dir, dirs, errbuf);
    if (n == 0) {
        hkr_free_dirs(*dirs, 0);
        *dirs = NULL;
        hkr_seterr(errbuf, "%s: no LTTng trace below it (no CTF 'metadata' file)", dir);
        return -1;
    }
    return n;
}

/* ---- per-event-class cache ------------------------------------------ */

enum { K_UINT = 1, K_SINT, K_STRING };

struct slot {
    uint16_t member;  /* index in the payload / context structure */
    uint8_t  field;   /* HKR_F_* (or HKR_F_VPID/VTID/LOCK_NAME)    */
    uint8_t  kind;    /* K_*                                        */
};

#define MAX_SLOTS 24

struct ec_cache {
    const bt_event_class *key;
    char             *full_name;
    const char       *name;
    enum hkr_provider provider;
    enum hkr_event_id id;
    uint8_t           n_payload, n_ctx, has_clock;
    struct slot       payload[MAX_SLOTS];
    struct slot       ctx[4];
};

struct reader {
    const struct hkr_callbacks *cb;
    struct hkr_stats  st;
    struct ec_cache **tab;     /* open addressing, keyed by class pointer */
    size_t            tab_cap, tab_n;
    char             *errbuf;
    struct hkr_event  ev;
};

static size_t ptr_hash(const void *p, size_t cap)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 29; x *= 0xbf58476d1ce4e5b9ull; x ^= x >> 32;
    return (size_t)x & (cap - 1);
}

static int field_kind(const bt_field_class *fc)
{
    bt_field_class_type t = bt_field_class_get_type(fc);
    if (bt_field_class_type_is(t, BT_FIELD_CLASS_TYPE_UNSIGNED_INTEGER)) return K_UINT;
    if (bt_field_class_type_is(t, BT_FIELD_CLASS_TYPE_SIGNED_INTEGER)) return K_SINT;
    if (t == BT_FIELD_CLASS_TYPE_STRING) return K_STRING;
    return 0;
}

/* Map the members of a structure class onto slots. */
static uint8_t map_struct(const bt_field_class *sfc, struct slot *slots, int max, int ctx)
{
    if (!sfc || bt_field_class_get_type(sfc) != BT_FIELD_CLASS_TYPE_STRUCTURE) return 0;
    uint64_t n = bt_field_class_structure_get_member_count(sfc);
    int k = 0;
    for (uint64_t i = 0; i < n && k < max; i++) {
        const bt_field_class_structure_member *m =
            bt_field_class_structure_borrow_member_by_index_const(sfc, i);
        const char *name = bt_field_class_structure_member_get_name(m);
        int kind = field_kind(bt_field_class_structure_member_borrow_field_class_const(m));
        if (!kind) continue;
        int f = -1;
        if (ctx) {
            if (!strcmp(name, "vpid")) f = HKR_F_VPID;
            else if (!strcmp(name, "vtid")) f = HKR_F_VTID;
            else if (!strcmp(name, "ip")) f = HKR_F_CALLER;
        } else if (kind == K_STRING) {
            if (!strcmp(name, "name")) f = HKR_F_LOCK_NAME;
        } else {
            f = field_by_name(name);
        }
        if (f < 0 || (kind == K_STRING) != (f == HKR_F_LOCK_NAME)) continue;
        slots[k].member = (uint16_t)i;
        slots[k].field = (uint8_t)f;
        slots[k].kind = (uint8_t)kind;
        k++;
    }
    return (uint8_t)k;
}

static struct ec_cache *cache_build(const bt_event_class *ec)
{
    struct ec_cache *c = calloc(1, sizeof *c);
    const char *full = bt_event_class_get_name(ec);
    if (!c || !(c->full_name = strdup(full ? full : "?"))) {
        free(c);
        return NULL;
    }
    hkr_classify(c->full_name, &c->provider, &c->id, &c->name);
    c->key = ec;
    c->n_payload = map_struct(bt_event_class_borrow_payload_field_class_const(ec),
                              c->payload, MAX_SLOTS, 0);
    const bt_stream_class *sc = bt_event_class_borrow_stream_class_const(ec);
    c->has_clock = bt_stream_class_borrow_default_clock_class_const(sc) != NULL;
    c->n_ctx = map_struct(bt_stream_class_borrow_event_common_context_field_class_const(sc),
                          c->ctx, 4, 1);
    return c;
}

static struct ec_cache *cache_get(struct reader *r, const bt_event_class *ec)
{
    size_t i = ptr_hash(ec, r->tab_cap);
    for (;;) {
        struct ec_cache *c = r->tab[i];
        if (!c) break;
        if (c->key == ec) return c;
        i = (i + 1) & (r->tab_cap - 1);
    }
    if ((r->tab_n + 1) * 2 > r->tab_cap) {
        size_t ncap = r->tab_cap * 2;
        struct ec_cache **nt = calloc(ncap, sizeof *nt);
        if (!nt) return NULL;
        for (size_t j = 0; j < r->tab_cap; j++) {
            if (!r->tab[j]) continue;
            size_t k = ptr_hash(r->tab[j]->key, ncap);
            while (nt[k]) k = (k + 1) & (ncap - 1);
            nt[k] = r->tab[j];
        }
        free(r->tab);
        r->tab = nt;
        r->tab_cap = ncap;
        i = ptr_hash(ec, ncap);
        while (r->tab[i]) i = (i + 1) & (ncap - 1);
    }
    struct ec_cache *c = cache_build(ec);
    if (!c) return NULL;
    r->tab[i] = c;
    r->tab_n++;
    return c;
}

static void cache_free(struct reader *r)
{
    for (size_t i = 0; i < r->tab_cap; i++) {
        if (!r->tab[i]) continue;
        free(r->tab[i]->full_name);
        free(r->tab[i]);
    }
    free(r->tab);
}

/* ---- decoding -------------------------------------------------------- */

static inline void put_slot(struct hkr_event *ev, const struct slot *s, const bt_field *f)
{
    uint64_t v;
    switch (s->kind) {
    case K_UINT: v = bt_field_integer_unsigned_get_value(f); break;
    case K_SINT: v = (uint64_t)bt_field_integer_signed_get_value(f); break;
    default:
        ev->lock_name = bt_field_string_get_value(f);
        ev->has |= 1u << HKR_F_LOCK_NAME;
        return;
    }
    if (s->field == HKR_F_VPID) ev->vpid = (int64_t)v;
    else if (s->field == HKR_F_VTID) ev->vtid = (int64_t)v;
    else *(uint64_t *)((char *)ev + field_off[s->field]) = v;
    ev->has |= 1u << s->field;
}

static int decode_event(struct reader *r, const bt_message *msg)
{
    const bt_event *e = bt_message_event_borrow_event_const(msg);
    const bt_event_class *ec = bt_event_borrow_class_const(e);
    struct ec_cache *c = cache_get(r, ec);
    if (!c) {
        hkr_seterr(r->errbuf, "out of memory");
        return -1;
    }
    struct hkr_event *ev = &r->ev;
    /* Clear only what the previous event set. */
    if (ev->has) {
        for (uint32_t h = ev->has & ((1u << HKR_F_NINT) - 1); h; h &= h - 1)
            *(uint64_t *)((char *)ev + field_off[__builtin_ctz(h)]) = 0;
        ev->lock_name = NULL;
    }
    ev->has = 0;
    ev->vpid = ev->vtid = -1;
    ev->provider = c->provider;
    ev->id = c->id;
    ev->name = c->name;
    ev->full_name = c->full_name;
    ev->index = r->st.events;
    ev->ts_ns = 0;
    if (c->has_clock) {
        const bt_clock_snapshot *cs = bt_message_event_borrow_default_clock_snapshot_const(msg);
        if (bt_clock_snapshot_get_ns_from_origin(cs, &ev->ts_ns) ==
            BT_CLOCK_SNAPSHOT_GET_NS_FROM_ORIGIN_STATUS_OK)
            ev->has |= 1u << HKR_F_TS;
    }
    if (c->n_ctx) {
        const bt_field *ctx = bt_event_borrow_common_context_field_const(e);
        for (unsigned i = 0; ctx && i < c->n_ctx; i++)
            put_slot(ev, &c->ctx[i],
                     bt_field_structure_borrow_member_field_by_index_const(ctx, c->ctx[i].member));
    }
    if (c->n_payload) {
        const bt_field *pl = bt_event_borrow_payload_field_const(e);
        for (unsigned i = 0; pl && i < c->n_payload; i++)
            put_slot(ev, &c->payload[i],
                     bt_field_structure_borrow_member_field_by_index_const(pl,
                                                                   c->payload[i].member));
    }
    r->st.events++;
    return r->cb->event(ev, r->cb->arg);
}

static int decode_discard(struct reader *r, const bt_message *msg, enum hkr_discard_kind kind)
{
    struct hkr_discard d;
    memset(&d, 0, sizeof d);
    d.kind = kind;
    const bt_stream *s;
    const bt_clock_snapshot *b = NULL, *e = NULL;
    if (kind == HKR_DISCARDED_EVENTS) {
        s = bt_message_discarded_events_borrow_stream_const(msg);
        d.has_count = bt_message_discarded_events_get_count(msg, &d.count) ==
                      BT_PROPERTY_AVAILABILITY_AVAILABLE;
        if (bt_stream_class_discarded_events_have_default_clock_snapshots(
                bt_stream_borrow_class_const(s))) {
            b = bt_message_discarded_events_borrow_beginning_default_clock_snapshot_const(msg);
            e = bt_message_discarded_events_borrow_end_default_clock_snapshot_const(msg);
        }
    } else {
        s = bt_message_discarded_packets_borrow_stream_const(msg);
        d.has_count = bt_message_discarded_packets_get_count(msg, &d.count) ==
                      BT_PROPERTY_AVAILABILITY_AVAILABLE;
        if (bt_stream_class_discarded_packets_have_default_clock_snapshots(
                bt_stream_borrow_class_const(s))) {
            b = bt_message_discarded_packets_borrow_beginning_default_clock_snapshot_const(msg);
            e = bt_message_discarded_packets_borrow_end_default_clock_snapshot_const(msg);
        }
    }
    if (b && e &&
        bt_clock_snapshot_get_ns_from_origin(b, &d.begin_ns) ==
            BT_CLOCK_SNAPSHOT_GET_NS_FROM_ORIGIN_STATUS_OK &&
        bt_clock_snapshot_get_ns_from_origin(e, &d.end_ns) ==
            BT_CLOCK_SNAPSHOT_GET_NS_FROM_ORIGIN_STATUS_OK)
        d.has_times = 1;
    d.stream_name = bt_stream_get_name(s);
    d.stream_id = bt_stream_get_id(s);
    d.trace_name = bt_trace_get_name(bt_stream_borrow_trace_const(s));
    hkr_stats_discard(&r->st, &d);
    return r->cb->discarded ? r->cb->discarded(&d, r->cb->arg) : 0;
}

static int decode_message(const bt_message *m, void *arg)
{
    struct reader *r = arg;
    switch (bt_message_get_type(m)) {
    case BT_MESSAGE_TYPE_EVENT: return decode_event(r, m);
    case BT_MESSAGE_TYPE_DISCARDED_EVENTS: return decode_discard(r, m, HKR_DISCARDED_EVENTS);
    case BT_MESSAGE_TYPE_DISCARDED_PACKETS: return decode_discard(r, m, HKR_DISCARDED_PACKETS);
    default: return 0;
    }
}

/* ---- graph ----------------------------------------------------------- */

struct sink {
    hkr_message_fn fn;
    void          *arg;
    int            stop;       /* fn's non-zero value                    */
};

static bt_graph_simple_sink_component_consume_func_status
sink_consume(bt_message_iterator *it, void *data)
{
    struct sink *s = data;
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
    uint64_t i = 0;
    int rc = 0;
    for (; i < count && rc == 0; i++) {
        rc = s->fn(msgs[i], s->arg);
        bt_message_put_ref(msgs[i]);
    }
    for (; i < count; i++) bt_message_put_ref(msgs[i]);
    if (rc == 0) return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_OK;
    s->stop = rc;
    return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_END;
}

/* Turn babeltrace's current error into "PREFIX: cause".  Cause 0 is the
 * root cause (the most specific, e.g. which stream file failed). */
static int take_bt_error(char *errbuf, const char *prefix)
{
    const bt_error *err = bt_current_thread_take_error();
    const char *msg = NULL;
    if (err) {
        uint64_t n = bt_error_get_cause_count(err);
        for (uint64_t i = 0; i < n && !msg; i++) {
            const char *m = bt_error_cause_get_message(bt_error_borrow_cause_by_index(err, i));
            if (m && *m) msg = m;
        }
    }
    if (msg) {
        char one[HKR_ERRLEN];
        snprintf(one, sizeof one, "%s", msg);
        for (char *p = one; *p; p++) if (*p == '\n') *p = ' ';
        hkr_seterr(errbuf, "%s: %s", prefix, one);
    } else {
        hkr_seterr(errbuf, "%s", prefix);
    }
    if (err) bt_error_release(err);
    return err != NULL;
}

static const bt_plugin *find_plugin(const char *name, char *errbuf)
{
    const bt_plugin *p = NULL;
    if (bt_plugin_find(name, BT_TRUE, BT_TRUE, BT_TRUE, BT_TRUE, BT_FALSE, &p) !=
            BT_PLUGIN_FIND_STATUS_OK || !p) {
        bt_current_thread_clear_error();
        hkr_seterr(errbuf, "babeltrace2 plugin '%s' not found (is babeltrace2 installed?)", name);
        return NULL;
    }
    return p;
}

/* Run source.ctf.fs over dirs[0..ndirs) -> filter.utils.muxer -> a
 * simple sink that hands each message to fn.  Returns 0 when every stream
 * was read to its end, fn's non-zero value when fn stopped the read, or
 * -1 with a message in errbuf; no babeltrace2 error is left pending. */
static int graph_run(const char *dir, char **dirs, int ndirs, hkr_message_fn fn, void *arg,
                     char *errbuf, void (*on_ready)(void *), void *ready_arg)
{
    /* An error left pending by an earlier caller would make the first
     * call below a precondition failure. */
    bt_current_thread_clear_error();
    struct sink sk = { fn, arg, 0 };
    int ret = -1;
    const bt_plugin *ctf = NULL, *utils = NULL;
    bt_graph *g = NULL;
    bt_value *params = NULL, *inputs = NULL;
    const bt_component_source *src = NULL;
    const bt_component_filter *mux = NULL;
    const bt_component_sink *sink = NULL;
    char prefix[HKR_ERRLEN / 2];
    snprintf(prefix, sizeof prefix, "%s: cannot read trace", dir);

    if (!(ctf = find_plugin("ctf", errbuf)) || !(utils = find_plugin("utils", errbuf)))
        goto out;
    const bt_component_class_source *fs =
        bt_plugin_borrow_source_component_class_by_name_const(ctf, "fs");
    const bt_component_class_filter *muxer =
        bt_plugin_borrow_filter_component_class_by_name_const(utils, "muxer");
    if (!fs || !muxer) {
        hkr_seterr(errbuf, "babeltrace2 lacks source.ctf.fs or filter.utils.muxer");
        goto out;
    }
    g = bt_graph_create(0);
    params = bt_value_map_create();
    inputs = bt_value_array_create();
    if (!g || !params || !inputs) { hkr_seterr(errbuf, "out of memory"); goto out; }
    for (int i = 0; i < ndirs; i++)
        if (bt_value_array_append_string_element(inputs, dirs[i]) !=
            BT_VALUE_ARRAY_APPEND_ELEMENT_STATUS_OK) {
            hkr_seterr(errbuf, "out of memory");
            goto out;
        }
    if (bt_value_map_insert_entry(params, "inputs", inputs) != BT_VALUE_MAP_INSERT_ENTRY_STATUS_OK) {
        hkr_seterr(errbuf, "out of memory");
        goto out;
    }
    if (bt_graph_add_source_component(g, fs, "source", params, BT_LOGGING_LEVEL_NONE, &src) !=
        BT_GRAPH_ADD_COMPONENT_STATUS_OK) {
        take_bt_error(errbuf, prefix);
        goto out;
    }
    if (bt_graph_add_filter_component(g, muxer, "muxer", NULL, BT_LOGGING_LEVEL_NONE, &mux) !=
            BT_GRAPH_ADD_COMPONENT_STATUS_OK ||
        bt_graph_add_simple_sink_component(g, "sink", NULL, sink_consume, NULL, &sk, &sink) !=
            BT_GRAPH_ADD_COMPONENT_STATUS_OK) {
        take_bt_error(errbuf, prefix);
        goto out;
    }
    uint64_t nout = bt_component_source_get_output_port_count(src);
    if (nout == 0) {
        hkr_seterr(errbuf, "%s: no data streams in the trace", dir);
        goto out;
    }
    for (uint64_t i = 0; i < nout; i++) {
        const bt_port_output *op = bt_component_source_borrow_output_port_by_index_const(src, i);
        /* The muxer always offers one more unconnected input port. */
        uint64_t nin = bt_component_filter_get_input_port_count(mux);
        const bt_port_input *ip = bt_component_filter_borrow_input_port_by_index_const(mux, nin - 1);
        if (bt_graph_connect_ports(g, op, ip, NULL) != BT_GRAPH_CONNECT_PORTS_STATUS_OK) {
            take_bt_error(errbuf, prefix);
            goto out;
        }
    }
    if (bt_graph_connect_ports(g,
            bt_component_filter_borrow_output_port_by_index_const(mux, 0),
            bt_component_sink_borrow_input_port_by_index_const(sink, 0), NULL) !=
        BT_GRAPH_CONNECT_PORTS_STATUS_OK) {
        take_bt_error(errbuf, prefix);
        goto out;
    }
    if (on_ready) on_ready(ready_arg);
    bt_graph_run_status st;
    do {
        st = bt_graph_run(g);
    } while (st == BT_GRAPH_RUN_STATUS_AGAIN);
    /* After a stop, what babeltrace2 has pending is moot (fn either
     * wanted no more or failed with its own message). */
    if (sk.stop == 0) {
        if (st != BT_GRAPH_RUN_STATUS_OK) {
            take_bt_error(errbuf, prefix);
            goto out;
        }
        const bt_error *pending = bt_current_thread_take_error();
        if (pending) {
            bt_current_thread_move_error(pending);
            char early[HKR_ERRLEN / 2];
            snprintf(early, sizeof early, "%s: cannot read trace: a stream ends early", dir);
            take_bt_error(errbuf, early);
            goto out;
        }
    }
    bt_current_thread_clear_error();
    ret = sk.stop;
out:
    bt_value_put_ref(inputs);
    bt_value_put_ref(params);
    bt_graph_put_ref(g);
    bt_plugin_put_ref(ctf);
    bt_plugin_put_ref(utils);
    return ret;
}

int hkr_read_inproc(const char *dir, char **dirs, int ndirs, const struct hkr_callbacks *cb,
                    struct hkr_stats *stats, char *errbuf,
                    void (*on_ready)(void *), void *ready_arg)
{
    struct reader r;
    memset(&r, 0, sizeof r);
    r.cb = cb;
    r.errbuf = errbuf;
    r.st.traces = (unsigned)ndirs;
    r.tab_cap = 64;
    r.tab = calloc(r.tab_cap, sizeof *r.tab);
    int ret = -1;
    if (!r.tab) hkr_seterr(errbuf, "out of memory");
    else ret = graph_run(dir, dirs, ndirs, decode_message, &r, errbuf, on_ready, ready_arg);
    if (stats) *stats = r.st;
    if (r.tab) cache_free(&r);
    return ret;
}

int hkr_read_messages(const char *dir, hkr_message_fn fn, void *arg, char errbuf[HKR_ERRLEN])
{
    char **dirs;
    int ndirs = hkr_trace_dirs(dir, &dirs, errbuf);
    if (ndirs < 0) return -1;
    int ret = graph_run(dir, dirs, ndirs, fn, arg, errbuf, NULL, NULL);
    hkr_free_dirs(dirs, ndirs);
    return ret;
}
