/*
 * The scripted scenario harness (see harness.h): an in-memory cluster with
 * synchronous disks and an ordered, partitionable network, driven by a
 * line-oriented script.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "lib/alloc.h"
#include "lib/byte.h"
#include "lib/err.h"

#define H_MAX 8
#define H_SNAP_BYTES 600

struct hdisk {
    struct raft_hard_state hs;
    struct raft_entry *log; /* each with a payload reference */
    unsigned n;
    uint64_t first;
    bool has_snap;
    struct raft_snapshot_meta meta;
    uint8_t snap[H_SNAP_BYTES];
    /* Older snapshots kept readable: the previous one and the one a
     * transfer still reads (raftSnapshotPinned); index 0 = none. */
    uint64_t prev_index, pin_index;
    uint8_t prev[H_SNAP_BYTES], pin[H_SNAP_BYTES];
    uint8_t incoming[H_SNAP_BYTES];
    size_t incoming_len;
};

struct hnode {
    struct raft *r;
    bool up;
    struct hdisk disk;
    uint64_t now_ms;
    uint64_t applied;
    uint64_t installs;
    uint64_t peak_log_bytes; /* raftLogBytes since the last start */
    uint64_t reads_ctx[32];
    uint64_t reads_index[32];
    bool reads_failed[32]; /* follower reads the leader did not confirm */
    unsigned n_reads;
};

struct hmsg {
    int from, to;
    uint8_t *buf;
    size_t len;
};

static struct {
    unsigned n;
    struct hnode nodes[H_MAX + 1]; /* by id, 1-based */
    bool link[H_MAX + 1][H_MAX + 1];
    struct raft_options opts;
    struct hmsg *queue;
    size_t q_head, q_len, q_cap;
    bool tolerant;
    bool autosnap; /* snapshot once half the entry cache is unsnapshotted */
    int failures;
    int line;
    const char *text;
} H;

#define HFAIL(...)                                              \
    do {                                                        \
        char m_[256];                                           \
        snprintf(m_, sizeof m_, __VA_ARGS__);                   \
        cr_assert_fail("script line %d \"%.*s\": %s", H.line,   \
                       (int)strcspn(H.text, "\n"), H.text, m_); \
    } while (0)

/* A core call: fails the test, unless tolerant (OOM sweeps). */
static bool hOk(int rv, const char *what)
{
    if (rv == 0) {
        return true;
    }
    if (H.tolerant) {
        H.failures++;
        return false;
    }
    HFAIL("%s: %s", what, errString(rv));
    return false;
}

/* ------------------------------------------------------------ disk */

static void hDiskTruncate(struct hdisk *d, uint64_t from)
{
    while (d->n > 0 && d->first + d->n - 1 >= from) {
        raftPayloadUnref(d->log[--d->n].data);
    }
}

/* Harness bookkeeping uses libc directly: out-of-memory sweeps inject
 * failures into the core's allocations only. */
static void hDiskAppend(struct hdisk *d, const struct raft_entry *e)
{
    d->log = realloc(d->log, (d->n + 1) * sizeof *d->log);
    cr_assert(d->log != NULL);
    d->log[d->n++] = *e;
    raftPayloadRef(e->data);
}

/* The snapshot replaces the log up to its index. */
static void hDiskDropUpTo(struct hdisk *d, uint64_t index)
{
    unsigned drop = 0;
    while (drop < d->n && d->first + drop <= index) {
        raftPayloadUnref(d->log[drop++].data);
    }
    memmove(d->log, d->log + drop, (d->n - drop) * sizeof *d->log);
    d->n -= drop;
    d->first = d->n == 0 ? index + 1 : d->first + drop;
}

/* The newest snapshot becomes the previous one; the previous one is kept
 * if a transfer still reads it. */
static void hDiskKeepPrevious(struct hdisk *d, uint64_t pinned)
{
    if (pinned != 0 && pinned == d->prev_index) {
        memcpy(d->pin, d->prev, H_SNAP_BYTES);
        d->pin_index = d->prev_index;
    } else if (pinned != d->pin_index) {
        d->pin_index = 0;
    }
    d->prev_index = d->has_snap ? d->meta.index : 0;
    memcpy(d->prev, d->snap, H_SNAP_BYTES);
}

static void hDiskChunk(struct hnode *node, const struct raft_ready *rd)
{
    const struct raft_snapshot_write *c = &rd->snapshot_chunk;
    struct hdisk *d = &node->disk;
    if (c->offset == 0) {
        d->incoming_len = 0;
    }
    cr_assert_eq(c->offset, d->incoming_len, "chunk out of order");
    cr_assert(d->incoming_len + c->len <= H_SNAP_BYTES);
    if (c->len > 0) {
        memcpy(d->incoming + d->incoming_len, c->data, c->len);
    }
    d->incoming_len += c->len;
    if (!c->last) {
        return;
    }
    hDiskKeepPrevious(d, 0);
    memcpy(d->snap, d->incoming, H_SNAP_BYTES);
    raftSnapshotMetaClose(&d->meta);
    d->meta = rd->snapshot_install;
    if (raftConfCopy(&rd->snapshot_install.conf, &d->meta.conf) != 0) {
        cr_assert(H.tolerant);
        raftConfInit(&d->meta.conf);
        H.failures++;
    }
    d->has_snap = true;
    hDiskDropUpTo(d, d->meta.index);
}

static void hPersist(struct hnode *node, const struct raft_ready *rd)
{
    struct hdisk *d = &node->disk;
    if (rd->has_snapshot_chunk) {
        hDiskChunk(node, rd);
    }
    if (rd->truncate_from != 0) {
        hDiskTruncate(d, rd->truncate_from);
    }
    for (unsigned k = 0; k < rd->n_entries; k++) {
        if (d->n == 0) {
            d->first = rd->entries_index;
        }
        cr_assert_eq(rd->entries_index + k, d->first + d->n, "log gap");
        hDiskAppend(d, &rd->entries[k]);
    }
    if (rd->has_hard_state) {
        d->hs = rd->hard_state;
    }
}

/* ------------------------------------------------------------ network */

static void hSend(int from, const struct raft_send *s)
{
    uint8_t *buf;
    size_t len;
    if (!hOk(raftMessageEncode(&s->message, &buf, &len), "encode")) {
        return; /* lost */
    }
    if (H.q_len == H.q_cap) {
        size_t old_cap = H.q_cap;
        H.q_cap = old_cap == 0 ? 64 : old_cap * 2;
        struct hmsg *q = malloc(H.q_cap * sizeof *q);
        cr_assert(q != NULL);
        for (size_t k = 0; k < H.q_len; k++) {
            q[k] = H.queue[(H.q_head + k) % old_cap];
        }
        free(H.queue);
        H.queue = q;
        H.q_head = 0;
    }
    H.queue[(H.q_head + H.q_len++) % H.q_cap] =
        (struct hmsg){from, (int)s->to, buf, len};
}

static const uint8_t *hSnapshotFile(const struct hdisk *d, uint64_t index)
{
    if (d->has_snap && d->meta.index == index) {
        return d->snap;
    }
    if (d->prev_index == index) {
        return d->prev;
    }
    return d->pin_index == index ? d->pin : NULL;
}

static void hServeSnapshotReads(int id, const struct raft_ready *rd)
{
    struct hnode *node = &H.nodes[id];
    for (unsigned k = 0; k < rd->n_snapshot_reads; k++) {
        const struct raft_snapshot_read *q = &rd->snapshot_reads[k];
        const uint8_t *file = hSnapshotFile(&node->disk, q->index);
        size_t len = H_SNAP_BYTES - q->offset;
        len = len < q->len ? len : q->len;
        if (file == NULL) {
            raftReportSnapshot(node->r, q->to, false);
            continue;
        }
        hOk(raftSnapshotChunk(node->r, q->to, q->index, q->offset,
                              file + q->offset, len,
                              q->offset + len == H_SNAP_BYTES),
            "snapshot chunk");
    }
}

static void hApply(int id, const struct raft_ready *rd)
{
    struct hnode *node = &H.nodes[id];
    if (rd->has_snapshot_install) {
        node->applied = byteGet64(node->disk.snap);
        node->installs++;
    }
    if (rd->n_committed > 0) {
        cr_assert_eq(rd->committed_index, node->applied + 1, "apply order");
        node->applied += rd->n_committed;
    }
    for (unsigned k = 0; k < rd->n_reads && node->n_reads < 32; k++) {
        node->reads_ctx[node->n_reads] = rd->reads[k].ctx;
        node->reads_failed[node->n_reads] = rd->reads[k].failed;
        node->reads_index[node->n_reads++] = rd->reads[k].index;
    }
}

static void hTakeSnapshot(int id);

/* The embedder's rule of src/server (replicaMaybeSnapshot): a snapshot once
 * the applied entries after the last one hold half the entry cache. */
static void hAutoSnapshot(int id)
{
    struct hnode *node = &H.nodes[id];
    uint64_t since = node->disk.has_snap ? node->disk.meta.index : 0;
    uint64_t half = H.opts.entry_cache_bytes / 2;
    if (H.autosnap && half > 0 && node->applied > since &&
        raftLogBytes(node->r, since, node->applied) >= half) {
        hTakeSnapshot(id);
    }
}

static void hNotePeak(struct hnode *node)
{
    uint64_t bytes = raftLogBytes(node->r, 0, UINT64_MAX);
    if (bytes > node->peak_log_bytes) {
        node->peak_log_bytes = bytes;
    }
}

/* Carries out every ready batch of node `id`. Returns whether any. */
static bool hProcess(int id)
{
    struct hnode *node = &H.nodes[id];
    struct raft_ready rd;
    bool any = false;
    while (node->up && raftHasReady(node->r)) {
        if (!hOk(raftReady(node->r, &rd), "ready")) {
            return any;
        }
        any = true;
        for (unsigned k = 0; k < rd.n_messages; k++) {
            hSend(id, &rd.messages[k]);
        }
        hPersist(node, &rd);
        for (unsigned k = 0; k < rd.n_messages_after_persist; k++) {
            hSend(id, &rd.messages_after_persist[k]);
        }
        hApply(id, &rd);
        hServeSnapshotReads(id, &rd);
        raftAdvance(node->r, &rd);
        hNotePeak(node);
        hAutoSnapshot(id);
        hNotePeak(node);
    }
    return any;
}

static bool hDeliverOne(void)
{
    struct raft_message m;
    if (H.q_len == 0) {
        return false;
    }
    struct hmsg msg = H.queue[H.q_head];
    H.q_head = (H.q_head + 1) % H.q_cap;
    H.q_len--;
    if (msg.to >= 1 && msg.to <= (int)H.n && H.nodes[msg.to].up &&
        H.link[msg.from][msg.to]) {
        if (hOk(raftMessageDecode(msg.buf, msg.len, &m), "decode")) {
            hOk(raftStep(H.nodes[msg.to].r, &m), "step");
            raftMessageClose(&m);
            hProcess(msg.to);
        }
    }
    libFree(msg.buf);
    return true;
}

static void hStabilize(void)
{
    for (int round = 0; round < 100000; round++) {
        bool any = false;
        for (unsigned id = 1; id <= H.n; id++) {
            any |= hProcess((int)id);
        }
        any |= hDeliverOne();
        if (!any) {
            return;
        }
    }
    HFAIL("the cluster does not stabilize");
}

/* ------------------------------------------------------------ nodes */

static void hStart(int id)
{
    struct hnode *node = &H.nodes[id];
    struct hdisk *d = &node->disk;
    struct raft_options o = H.opts;
    o.seed = (uint64_t)id * 7919;
    if (!hOk(raftCreate((uint64_t)id, &o, &d->hs, d->has_snap ? &d->meta : NULL,
                        d->log, d->n, d->first, node->now_ms, &node->r),
             "create")) {
        return;
    }
    node->up = true;
    node->applied = d->has_snap ? d->meta.index : 0;
    node->peak_log_bytes = 0;
    hNotePeak(node);
}

static void hCrash(int id)
{
    struct hnode *node = &H.nodes[id];
    if (node->up) {
        raftDestroy(node->r);
        node->r = NULL;
        node->up = false;
    }
}

static void hCluster(unsigned n, unsigned voters)
{
    struct raft_configuration conf;
    struct raft_entry boot;
    char address[16];
    cr_assert(n >= 1 && n <= H_MAX && voters <= n);
    H.n = n;
    raftConfInit(&conf);
    for (unsigned i = 1; i <= voters; i++) {
        snprintf(address, sizeof address, "10.0.0.%u:9000", i);
        cr_assert_eq(raftConfAdd(&conf, i, address, RAFT_VOTER), 0);
    }
    cr_assert_eq(raftBootstrapEntry(&conf, &boot), 0);
    raftConfClose(&conf);
    for (unsigned i = 1; i <= n; i++) {
        H.nodes[i].disk.first = 1;
        raftConfInit(&H.nodes[i].disk.meta.conf);
        if (i <= voters) {
            hDiskAppend(&H.nodes[i].disk, &boot);
        }
        for (unsigned j = 1; j <= n; j++) {
            H.link[i][j] = true;
        }
        hStart((int)i);
    }
    raftPayloadUnref(boot.data);
}

static void hTakeSnapshot(int id)
{
    struct hnode *node = &H.nodes[id];
    struct raft_snapshot_meta meta;
    if (!hOk(raftSnapshotMetaAt(node->r, node->applied, &meta), "meta")) {
        return;
    }
    hOk(raftSnapshotTaken(node->r, node->applied), "snapshot taken");
    hDiskKeepPrevious(&node->disk, raftSnapshotPinned(node->r));
    memset(node->disk.snap, 0xab, H_SNAP_BYTES);
    bytePut64(node->disk.snap, node->applied);
    raftSnapshotMetaClose(&node->disk.meta);
    node->disk.meta = meta;
    node->disk.has_snap = true;
    if (node->applied > H.opts.snapshot_trailing) {
        hDiskDropUpTo(&node->disk, node->applied - H.opts.snapshot_trailing);
    }
}

/* `log <id> <term>...`: the node's log after the bootstrap entry. */
static void hSetLog(int id, char **args, int n)
{
    struct hdisk *d = &H.nodes[id].disk;
    hCrash(id);
    hDiskTruncate(d, 2);
    for (int k = 0; k < n; k++) {
        struct raft_entry e = {strtoull(args[k], NULL, 10), RAFT_COMMAND,
                               raftPayloadAlloc(1), 1};
        cr_assert(e.data != NULL);
        e.data[0] = (uint8_t)k;
        hDiskAppend(d, &e);
        raftPayloadUnref(e.data);
    }
    hStart(id);
}

static void hFree(void)
{
    for (unsigned i = 1; i <= H.n; i++) {
        hCrash((int)i);
        hDiskTruncate(&H.nodes[i].disk, 0);
        free(H.nodes[i].disk.log);
        raftSnapshotMetaClose(&H.nodes[i].disk.meta);
    }
    while (H.q_len > 0) {
        libFree(H.queue[H.q_head].buf);
        H.q_head = (H.q_head + 1) % H.q_cap;
        H.q_len--;
    }
    free(H.queue);
}

/* ------------------------------------------------------------ script */

static int hId(const char *s)
{
    int id = atoi(s);
    if (id < 1 || id > (int)H.n) {
        HFAIL("no node %s", s);
    }
    return id;
}

static struct raft *hCore(const char *s)
{
    int id = hId(s);
    if (!H.nodes[id].up) {
        HFAIL("node %d is down", id);
    }
    return H.nodes[id].r;
}

static int hErrCode(const char *name)
{
    static const struct {
        const char *name;
        int code;
    } codes[] = {{"ok", 0},
                 {"notleader", ERR_NOTLEADER},
                 {"leadershiplost", ERR_LEADERSHIP_LOST},
                 {"busy", ERR_BUSY},
                 {"configbusy", ERR_CONFIG_BUSY},
                 {"badrole", ERR_BAD_ROLE},
                 {"unknownnode", ERR_UNKNOWN_NODE},
                 {"duplicate", ERR_DUPLICATE_NODE},
                 {"invalid", ERR_INVALID}};
    for (size_t k = 0; k < sizeof codes / sizeof codes[0]; k++) {
        if (strcmp(codes[k].name, name) == 0) {
            return codes[k].code;
        }
    }
    HFAIL("unknown error name %s", name);
    return -1;
}

/* The result of a core call, checked against an optional expected name. */
static void hResult(int rv, char **args, int n, int at, const char *what)
{
    int want = n > at ? hErrCode(args[at]) : 0;
    if (H.tolerant) {
        H.failures += rv != want;
        return;
    }
    if (rv != want) {
        HFAIL("%s returned \"%s\", expected \"%s\"", what, errString(rv),
              errString(want));
    }
}

static int hRole(const char *s)
{
    return strcmp(s, "voter") == 0     ? RAFT_VOTER
           : strcmp(s, "standby") == 0 ? RAFT_STANDBY
           : strcmp(s, "spare") == 0   ? RAFT_SPARE
                                       : -1;
}

static void hPartition(char **args, int n)
{
    int group[H_MAX + 1] = {0}, g = 1;
    for (int k = 0; k < n; k++) {
        if (strcmp(args[k], "/") == 0) {
            g++;
        } else {
            group[hId(args[k])] = g;
        }
    }
    for (unsigned i = 1; i <= H.n; i++) {
        for (unsigned j = 1; j <= H.n; j++) {
            H.link[i][j] = group[i] == group[j];
        }
    }
}

static void hTick(int id, uint64_t ms)
{
    struct hnode *node = &H.nodes[id];
    if (node->up) {
        node->now_ms += ms;
        raftTick(node->r, node->now_ms);
        hProcess(id);
    }
}

static void hOption(const char *name, const char *value)
{
    unsigned long v = strtoul(value, NULL, 10);
    if (strcmp(name, "prevote") == 0) {
        H.opts.pre_vote = v != 0;
    } else if (strcmp(name, "checkquorum") == 0) {
        H.opts.check_quorum = v != 0;
    } else if (strcmp(name, "trailing") == 0) {
        H.opts.snapshot_trailing = (unsigned)v;
    } else if (strcmp(name, "hold") == 0) {
        H.opts.snapshot_hold_max = (unsigned)v;
    } else if (strcmp(name, "chunk") == 0) {
        H.opts.snapshot_chunk_bytes = v;
    } else if (strcmp(name, "maxentries") == 0) {
        H.opts.max_append_entries = (unsigned)v;
    } else if (strcmp(name, "inflight") == 0) {
        H.opts.max_inflight_msgs = (unsigned)v;
    } else if (strcmp(name, "cache") == 0) {
        H.opts.entry_cache_bytes = v;
    } else if (strcmp(name, "holdbytes") == 0) {
        H.opts.snapshot_hold_bytes = v;
    } else if (strcmp(name, "lease") == 0) {
        H.opts.read_lease = v != 0;
    } else if (strcmp(name, "leasedrift") == 0) {
        H.opts.lease_drift_permille = (unsigned)v;
    } else if (strcmp(name, "autosnap") == 0) {
        H.autosnap = v != 0;
    } else {
        HFAIL("unknown option %s", name);
    }
}

static void hProposeN(struct raft *r, int id, int count, char **args, int n)
{
    for (int k = 0; k < count; k++) {
        uint64_t index, term;
        uint8_t *data = raftPayloadAlloc(8);
        if (data == NULL) {
            cr_assert(H.tolerant);
            H.failures++;
            return;
        }
        bytePut64(data, (uint64_t)k);
        int rv = raftPropose(r, data, 8, &index, &term);
        raftPayloadUnref(data);
        hResult(rv, args, n, 3, "propose");
    }
    hProcess(id);
}

/* proposebig NODE COUNT BYTES: COUNT entries of BYTES each, one at a
 * time, the cluster stabilized in between. */
static void hProposeBig(int id, int count, size_t len)
{
    for (int k = 0; k < count; k++) {
        uint64_t index, term;
        uint8_t *data = raftPayloadAlloc(len);
        cr_assert(data != NULL);
        memset(data, k, len);
        hOk(raftPropose(H.nodes[id].r, data, len, &index, &term), "propose");
        raftPayloadUnref(data);
        hStabilize();
    }
}

/* pickfrom NODE WANT ID...: raftTransferPickFrom over the listed ids. */
static void hPickFrom(char **a, int n)
{
    uint64_t ids[16];
    unsigned n_ids = 0;
    for (int i = 3; i < n && n_ids < 16; i++) {
        ids[n_ids++] = strtoull(a[i], NULL, 10);
    }
    uint64_t got = raftTransferPickFrom(hCore(a[1]), ids, n_ids);
    cr_assert_eq(got, strtoull(a[2], NULL, 10), "pickfrom %s: got %llu", a[1],
                 (unsigned long long)got);
}
static bool hCmdCore(char **a, int n)
{
    uint64_t index;
    int rv;
    if (strcmp(a[0], "propose") == 0) {
        hProposeN(hCore(a[1]), hId(a[1]), n > 2 ? atoi(a[2]) : 1, a, n);
    } else if (strcmp(a[0], "barrier") == 0) {
        uint64_t term;
        hResult(raftBarrier(hCore(a[1]), &index, &term), a, n, 2, "barrier");
    } else if (strcmp(a[0], "add") == 0) {
        char address[32];
        snprintf(address, sizeof address, "10.0.0.%s:9000", a[2]);
        rv = raftAddServer(hCore(a[1]), strtoull(a[2], NULL, 10), address,
                           &index);
        hResult(rv, a, n, 3, "add");
    } else if (strcmp(a[0], "assign") == 0) {
        rv = raftAssignRole(hCore(a[1]), strtoull(a[2], NULL, 10), hRole(a[3]),
                            &index);
        hResult(rv, a, n, 4, "assign");
    } else if (strcmp(a[0], "remove") == 0) {
        rv = raftRemoveServer(hCore(a[1]), strtoull(a[2], NULL, 10), &index);
        hResult(rv, a, n, 3, "remove");
    } else if (strcmp(a[0], "transfer") == 0) {
        rv = raftTransfer(hCore(a[1]), strtoull(a[2], NULL, 10));
        hResult(rv, a, n, 3, "transfer");
    } else if (strcmp(a[0], "read") == 0) {
        rv = raftReadIndex(hCore(a[1]), strtoull(a[2], NULL, 10),
                           H.nodes[hId(a[1])].now_ms);
        hResult(rv, a, n, 3, "read");
    } else if (strcmp(a[0], "pickfrom") == 0) {
        hPickFrom(a, n);
    } else if (strcmp(a[0], "proposebig") == 0) {
        hProposeBig(hId(a[1]), atoi(a[2]), strtoull(a[3], NULL, 10));
    } else {
        return false;
    }
    hProcess(hId(a[1]));
    return true;
}

static bool hCmdWorld(char **a, int n)
{
    if (strcmp(a[0], "cluster") == 0) {
        hCluster((unsigned)atoi(a[1]),
                 n > 3 ? (unsigned)atoi(a[3]) : (unsigned)atoi(a[1]));
    } else if (strcmp(a[0], "option") == 0) {
        hOption(a[1], a[2]);
    } else if (strcmp(a[0], "log") == 0) {
        hSetLog(hId(a[1]), a + 2, n - 2);
    } else if (strcmp(a[0], "hardstate") == 0) {
        int id = hId(a[1]);
        hCrash(id);
        H.nodes[id].disk.hs.term = strtoull(a[2], NULL, 10);
        H.nodes[id].disk.hs.vote = strtoull(a[3], NULL, 10);
        hStart(id);
    } else if (strcmp(a[0], "campaign") == 0) {
        hTick(hId(a[1]), 2 * H.opts.election_timeout_ms);
    } else if (strcmp(a[0], "tick") == 0) {
        for (unsigned i = 1; i <= H.n; i++) {
            hTick((int)i, strtoull(a[1], NULL, 10));
        }
    } else if (strcmp(a[0], "tickone") == 0) {
        hTick(hId(a[1]), strtoull(a[2], NULL, 10));
    } else if (strcmp(a[0], "stabilize") == 0) {
        hStabilize();
    } else if (strcmp(a[0], "oom") == 0) {
        libAllocFailAfter(atol(a[1]), 1);
    } else if (strcmp(a[0], "deliver") == 0) {
        for (int k = atoi(a[1]); k > 0 && hDeliverOne(); k--) {
        }
    } else if (strcmp(a[0], "partition") == 0) {
        hPartition(a + 1, n - 1);
    } else if (strcmp(a[0], "heal") == 0) {
        hPartition(NULL, 0);
    } else if (strcmp(a[0], "isolate") == 0 || strcmp(a[0], "cut") == 0) {
        int x = hId(a[1]);
        for (unsigned j = 1; j <= H.n; j++) {
            bool one_way = a[0][0] == 'c';
            if (!one_way || (int)j == hId(a[2])) {
                H.link[x][j] = false;
                H.link[j][x] = one_way ? H.link[j][x] : false;
            }
        }
    } else if (strcmp(a[0], "crash") == 0) {
        hCrash(hId(a[1]));
    } else if (strcmp(a[0], "losetail") == 0) {
        /* a crashed node's disk keeps entries up to a[2] (term and vote
         * stay): lost segments, a restored older copy */
        cr_assert(!H.nodes[hId(a[1])].up);
        hDiskTruncate(&H.nodes[hId(a[1])].disk, strtoull(a[2], NULL, 10) + 1);
    } else if (strcmp(a[0], "restart") == 0) {
        hStart(hId(a[1]));
    } else if (strcmp(a[0], "snapshot") == 0) {
        hTakeSnapshot(hId(a[1]));
    } else if (strcmp(a[0], "unreachable") == 0) {
        raftReportUnreachable(hCore(a[1]), strtoull(a[2], NULL, 10));
    } else {
        return false;
    }
    return true;
}

static bool hReadAnswered(int id, uint64_t ctx, uint64_t *index)
{
    const struct hnode *node = &H.nodes[id];
    for (unsigned k = 0; k < node->n_reads; k++) {
        if (node->reads_ctx[k] == ctx) {
            *index = node->reads_index[k];
            return true;
        }
    }
    return false;
}

static uint64_t hExpectValue(char **a, int n, uint64_t *want)
{
    struct raft *r = hCore(a[2]);
    uint64_t x;
    *want = strtoull(a[n - 1], NULL, 10);
    if (strcmp(a[1], "term") == 0) {
        return raftTerm(r);
    } else if (strcmp(a[1], "commit") == 0) {
        return raftCommitIndex(r);
    } else if (strcmp(a[1], "applied") == 0) {
        return H.nodes[hId(a[2])].applied;
    } else if (strcmp(a[1], "last") == 0) {
        return raftLastIndex(r);
    } else if (strcmp(a[1], "entry") == 0) {
        return raftTermAt(r, strtoull(a[3], NULL, 10));
    } else if (strcmp(a[1], "voters") == 0) {
        return raftConfVoters(raftConfiguration(r));
    } else if (strcmp(a[1], "servers") == 0) {
        return raftConfiguration(r)->n;
    } else if (strcmp(a[1], "installs") == 0) {
        return H.nodes[hId(a[2])].installs;
    } else if (strcmp(a[1], "leaderid") == 0) {
        return raftLeader(r);
    } else if (strcmp(a[1], "match") == 0) {
        return raftMatchIndex(r, strtoull(a[3], NULL, 10));
    } else if (strcmp(a[1], "notices") == 0) {
        return raftNoticeCount(r, atoi(a[3]));
    } else if (strcmp(a[1], "read") == 0) {
        return hReadAnswered(hId(a[2]), strtoull(a[3], NULL, 10), &x)
                   ? x
                   : UINT64_MAX;
    }
    HFAIL("unknown expectation %s", a[1]);
    return 0;
}

static void hExpect(char **a, int n)
{
    uint64_t want, got;
    if (H.tolerant) {
        return;
    }
    if (strcmp(a[1], "state") == 0 || strcmp(a[1], "leader") == 0) {
        const char *names[] = {"?", "follower", "candidate", "leader"};
        const char *state = a[1][0] == 'l' ? "leader" : a[3];
        int s = raftState(hCore(a[2]));
        if (strcmp(names[s], state) != 0) {
            HFAIL("node %s is %s", a[2], names[s]);
        }
        return;
    }
    if (strcmp(a[1], "logbytes-under") == 0) {
        /* the most the node's log held in memory since it started */
        uint64_t peak = H.nodes[hId(a[2])].peak_log_bytes;
        if (peak > strtoull(a[3], NULL, 10)) {
            HFAIL("the log held %llu bytes", (unsigned long long)peak);
        }
        return;
    }
    if (strcmp(a[1], "readfail") == 0) {
        const struct hnode *node = &H.nodes[hId(a[2])];
        for (unsigned k = 0; k < node->n_reads; k++) {
            if (node->reads_ctx[k] == strtoull(a[3], NULL, 10)) {
                if (!node->reads_failed[k]) {
                    HFAIL("read %s was answered", a[3]);
                }
                return;
            }
        }
        HFAIL("read %s has not failed", a[3]);
    }
    if (strcmp(a[1], "noread") == 0) {
        if (hReadAnswered(hId(a[2]), strtoull(a[3], NULL, 10), &want)) {
            HFAIL("read %s was answered", a[3]);
        }
        return;
    }
    if (strcmp(a[1], "role") == 0) {
        const struct raft_server *s = raftConfGet(
            raftConfiguration(hCore(a[2])), strtoull(a[3], NULL, 10));
        if (s == NULL ? strcmp(a[4], "none") != 0 : s->role != hRole(a[4])) {
            HFAIL("server %s does not have role %s", a[3], a[4]);
        }
        return;
    }
    got = hExpectValue(a, n, &want);
    if (got != want) {
        HFAIL("%s is %llu, expected %llu", a[1], (unsigned long long)got,
              (unsigned long long)want);
    }
}

/* `deliver-until <expectation>`: one message at a time until a numeric
 * expectation (as for `expect`) holds. */
static void hDeliverUntil(char **a, int n)
{
    uint64_t want;
    while (hExpectValue(a, n, &want) != want) {
        if (!hDeliverOne()) {
            HFAIL("the network drained first");
        }
    }
}

static void hLine(char *line)
{
    char *args[64];
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, " \t", &save); t != NULL && n < 64;
         t = strtok_r(NULL, " \t", &save)) {
        if (t[0] == '#') {
            break;
        }
        args[n++] = t;
    }
    if (n == 0) {
        return;
    }
    if (strcmp(args[0], "expect") == 0) {
        hExpect(args, n);
    } else if (strcmp(args[0], "deliver-until") == 0) {
        hDeliverUntil(args, n);
    } else if (!hCmdWorld(args, n) && !hCmdCore(args, n)) {
        HFAIL("unknown command %s", args[0]);
    }
}

static int hRun(const char *script, bool tolerant)
{
    char line[512];
    memset(&H, 0, sizeof H);
    raftOptionsDefault(&H.opts);
    H.opts.election_timeout_ms = 100;
    H.opts.heartbeat_timeout_ms = 20;
    H.opts.snapshot_chunk_bytes = 256;
    H.opts.snapshot_trailing = 2;
    H.tolerant = tolerant;
    for (const char *p = script; *p != '\0';) {
        size_t len = strcspn(p, "\n");
        cr_assert(len < sizeof line);
        memcpy(line, p, len);
        line[len] = '\0';
        H.line++;
        H.text = p;
        hLine(line);
        p += len + (p[len] == '\n');
    }
    hFree();
    return H.failures;
}

void harnessRun(const char *script)
{
    hRun(script, false);
}

int harnessRunTolerant(const char *script)
{
    return hRun(script, true);
}
