/*
 * The Raft consensus core: a pure state machine with no I/O.
 *
 * This header is the whole public surface of src/raft. The core never reads
 * a clock, draws randomness of its own, touches a file or a socket: the
 * caller (src/raftio + src/server, or the simulator in test/sim) feeds it
 * events and carries out the work it asks for, in the step / ready / advance
 * style of etcd's raft:
 *
 *   inputs   raftTick(now_ms), raftStep(message), raftPropose, raftBarrier,
 *            raftAddServer / raftAssignRole / raftRemoveServer,
 *            raftTransfer, raftReadIndex, raftSnapshotTaken,
 *            raftSnapshotChunk (leader: bytes it asked for),
 *            raftReportUnreachable, raftReportSnapshot,
 *            raftPersisted, raftSnapshotPersisted
 *   outputs  raftHasReady / raftReady fill a `struct raft_ready` batch
 *   ack      raftAdvance(batch) once the batch has been carried out
 *
 * THE READY CONTRACT. A batch is carried out in this order:
 *   1. Send `messages` (these never depend on the local disk; they may be
 *      sent at once, in parallel with step 2: the leader replicates while it
 *      writes its own log. A batch that changes the hard state has none:
 *      everything waits for step 3).
 *   2. Make durable, in this order: when `has_snapshot_chunk`, write
 *      `snapshot_chunk` to the incoming snapshot file (offset 0 starts a
 *      new file, discarding any partial one) and, for the `last` chunk,
 *      make the metadata in `snapshot_install` durable with it: from then on
 *      the snapshot replaces the log up to its index (delete those
 *      entries); then, if `truncate_from` != 0, delete every log entry with
 *      index >= truncate_from; append `entries` (the first one has index
 *      `entries_index`); write `hard_state` when `has_hard_state`. A crash
 *      may lose any suffix of this sequence (a torn last write), never a
 *      part in the middle.
 *   3. Only after step 2 is durable: send `messages_after_persist` (vote
 *      replies, append acknowledgements, a candidate's vote requests... all
 *      promise something about the local disk).
 *   4. If `has_snapshot_install`: the snapshot whose last chunk was just
 *      written is complete; restore the application from it (the log up to
 *      its index is now replaced by it: the I/O layer may delete those
 *      entries, the core already forgot them).
 *   5. Apply `committed` in order (never before step 2: a committed entry
 *      may be in this very batch).
 *   6. Answer `reads` (read-index results), serve `snapshot_reads` (read the
 *      bytes and hand them back with raftSnapshotChunk), observe the
 *      leadership/configuration notifications.
 *   7. raftAdvance(r, batch): this both acknowledges durability of step 2
 *      (it implies raftPersisted for the last entry of the batch and
 *      raftSnapshotPersisted for its chunk) and releases the batch.
 * Only one batch may be outstanding: raftReady must not be called again
 * before raftAdvance. Meanwhile raftSendNow hands out the messages that
 * step 1 allows at once (a leader's appends and heartbeats, snapshot
 * chunks, TimeoutNow) so that replication and heartbeats do not wait for
 * the outstanding batch's disk write. Other inputs (step, tick, propose...) MAY
 * be called while a batch is outstanding; what they produce goes into the next
 * batch. Everything a batch points to (arrays, payloads, addresses, chunk
 * bytes) is owned by the batch and stays valid until raftAdvance (or
 * raftDiscard) for that batch, whatever inputs arrive meanwhile.
 *
 * Proposals: raftPropose returns the index the entry will have. It is
 * committed when an entry with that index AND the returned term appears in
 * `committed`; if an entry with that index but another term appears there,
 * the proposal was lost (leadership changed) and may be retried.
 *
 * Entry payloads are reference-counted blocks (raftPayloadAlloc): the core,
 * a decoded message and a ready batch share one without copying. Inputs
 * borrow: the core takes its own reference to what it keeps (raftPropose,
 * raftCreate, raftStep), the caller still releases its own. Outputs lend:
 * the entries of a batch hold the batch's references; take one with
 * raftPayloadRef to keep a payload past raftAdvance (e.g. while a client
 * still needs it).
 */
#ifndef RAFT_RAFT_H
#define RAFT_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ limits */

#define RAFT_ADDRESS_MAX 255             /* bytes of a server address */
#define RAFT_CONF_MAX_SERVERS 64         /* servers in one configuration */
#define RAFT_ENTRY_MAX_BYTES (64u << 20) /* payload of one entry */
#define RAFT_MSG_MAX_ENTRIES 4096        /* entries in one AppendEntries */
#define RAFT_MSG_MAX_BYTES (128u << 20)  /* one encoded message */
#define RAFT_CHUNK_MAX_BYTES (8u << 20)  /* one InstallSnapshot chunk */
/* Default bound of the entry payload bytes the log holds in memory
 * (raft_options.entry_cache_bytes, docs/raft.md "Memory"). */
#define RAFT_ENTRY_CACHE_BYTES_DEFAULT ((size_t)64 << 20)

/* ------------------------------------------------------------ payloads */

/* A reference-counted byte block. Create with raftPayloadAlloc (refcount 1),
 * share with raftPayloadRef, release with raftPayloadUnref. `data` of a
 * zero-length payload may be NULL. */
uint8_t *raftPayloadAlloc(size_t len);
void raftPayloadRef(const uint8_t *data);
void raftPayloadUnref(const uint8_t *data);

/* ------------------------------------------------------------ entries */

enum raft_entry_type {
    RAFT_COMMAND = 1, /* application data */
    RAFT_BARRIER = 2, /* no-op: a leader's first entry, raftBarrier */
    RAFT_CHANGE = 3,  /* payload: an encoded configuration */
};

struct raft_entry {
    uint64_t term;
    uint8_t type;  /* enum raft_entry_type */
    uint8_t *data; /* payload block (see above) or NULL when len == 0 */
    size_t len;
};

/* ------------------------------------------------------------ configuration */

enum raft_role {
    RAFT_VOTER = 0,   /* replicates, votes, may lead */
    RAFT_STANDBY = 1, /* replicates, does not vote */
    RAFT_SPARE = 2,   /* neither */
};

struct raft_server {
    uint64_t id;   /* > 0 */
    char *address; /* owned, NUL-terminated, <= RAFT_ADDRESS_MAX bytes */
    int role;      /* enum raft_role */
};

/* A configuration owns its array and every address in it. */
struct raft_configuration {
    struct raft_server *servers;
    unsigned n;
};

void raftConfInit(struct raft_configuration *c);
void raftConfClose(struct raft_configuration *c);
/* Adds a copy of `address`. ERR_DUPLICATE_NODE, ERR_INVALID, ERR_TOOBIG,
 * ERR_NOMEM. */
int raftConfAdd(struct raft_configuration *c, uint64_t id, const char *address,
                int role);
/* Deep copy into an uninitialised `dst`. */
int raftConfCopy(const struct raft_configuration *src,
                 struct raft_configuration *dst);
/* NULL when absent. */
const struct raft_server *raftConfGet(const struct raft_configuration *c,
                                      uint64_t id);
unsigned raftConfVoters(const struct raft_configuration *c);

/* Byte encoding (docs/raft.md): the payload of RAFT_CHANGE entries and the
 * configuration carried by snapshots. Encode allocates *out with libMalloc
 * (the caller frees it) or, for raftConfEncodePayload, a payload block.
 * Decode fills an uninitialised `c` (the caller closes it); malformed input
 * gives ERR_MALFORMED and leaves nothing to free. */
size_t raftConfEncodedSize(const struct raft_configuration *c);
void raftConfEncodeTo(const struct raft_configuration *c, uint8_t *out);
int raftConfEncodePayload(const struct raft_configuration *c, uint8_t **out,
                          size_t *len);
int raftConfDecode(const uint8_t *buf, size_t len,
                   struct raft_configuration *c);

/* The first entry of a new cluster: term 1, RAFT_CHANGE with `c`. The
 * caller owns the entry's payload reference. A node starting a new cluster
 * persists it as index 1 and passes it to raftInit. */
int raftBootstrapEntry(const struct raft_configuration *c,
                       struct raft_entry *out);

/* ------------------------------------------------------------ persisted */

struct raft_hard_state {
    uint64_t term;
    uint64_t vote; /* node voted for in `term`, 0 = none */
};

/* What the core knows about a snapshot (its data lives with the I/O layer). */
struct raft_snapshot_meta {
    uint64_t index;                 /* last entry it covers */
    uint64_t term;                  /* term of that entry */
    struct raft_configuration conf; /* latest configuration at `index` */
    uint64_t conf_index; /* index of the entry that configuration came from */
};

/* ------------------------------------------------------------ messages */

enum raft_message_type {
    RAFT_MSG_APPEND = 1, /* AppendEntries, also the heartbeat */
    RAFT_MSG_APPEND_RESULT = 2,
    RAFT_MSG_VOTE = 3, /* RequestVote and PreVote */
    RAFT_MSG_VOTE_RESULT = 4,
    RAFT_MSG_SNAPSHOT = 5, /* one InstallSnapshot chunk */
    RAFT_MSG_SNAPSHOT_RESULT = 6,
    RAFT_MSG_TIMEOUT_NOW = 7, /* leadership transfer: start an election */
    RAFT_MSG_READ_INDEX = 8,  /* follower read: ask the leader's read index */
    RAFT_MSG_READ_INDEX_RESULT = 9,
};

struct raft_append {
    uint64_t prev_index;
    uint64_t prev_term;
    uint64_t commit;
    uint64_t read_seq;          /* read-index round the sender is confirming */
    struct raft_entry *entries; /* owned by the message */
    unsigned n_entries;
};

struct raft_append_result {
    uint8_t success;
    uint64_t index;      /* success: last index matched; else prev_index
                            that was rejected */
    uint64_t last_index; /* the sender's last log index */
    uint64_t hint_term;  /* reject: term of the sender's entry at
                            min(index, last_index), 0 if none (fast
                            back-tracking) */
    uint64_t read_seq;   /* echoed */
};

struct raft_vote {
    uint64_t last_index;
    uint64_t last_term;
    uint8_t pre_vote;       /* a pre-vote: `term` is the would-be term */
    uint8_t disrupt_leader; /* sent because of TimeoutNow (transfer) */
};

struct raft_vote_result {
    uint8_t granted;
    uint8_t pre_vote;
};

struct raft_snapshot_chunk_msg {
    uint64_t index; /* snapshot being sent */
    uint64_t term;
    uint64_t conf_index;
    struct raft_configuration conf; /* owned by the message */
    uint64_t offset;                /* of `data` in the snapshot file */
    uint8_t *data;                  /* payload block owned by the message */
    size_t len;                     /* <= RAFT_CHUNK_MAX_BYTES */
    uint8_t last;                   /* this chunk ends the file */
};

struct raft_snapshot_result {
    uint64_t index;  /* snapshot index */
    uint64_t offset; /* next offset the receiver expects (after `last`:
                        the file size) */
    uint8_t success; /* 0: restart from `offset` */
    uint8_t done;    /* snapshot fully received and persisted */
};

struct raft_timeout_now {
    uint64_t last_index;
    uint64_t last_term;
};

/* Follower reads (docs/raft.md "Follower reads"): `ctx` is the
 * follower's own raftReadIndex context, echoed in the result. */
struct raft_read_index {
    uint64_t ctx;
};

struct raft_read_index_result {
    uint64_t ctx;
    uint64_t index;  /* success: serve the read once this is applied */
    uint8_t success; /* 0: the sender does not lead (any more) */
};

struct raft_message {
    uint8_t type; /* enum raft_message_type */
    uint64_t from;
    uint64_t to;
    uint64_t term;
    union {
        struct raft_append append;
        struct raft_append_result append_result;
        struct raft_vote vote;
        struct raft_vote_result vote_result;
        struct raft_snapshot_chunk_msg snapshot;
        struct raft_snapshot_result snapshot_result;
        struct raft_timeout_now timeout_now;
        struct raft_read_index read_index;
        struct raft_read_index_result read_index_result;
    };
};

/* Releases what a message owns (entries' payload references, snapshot
 * configuration and chunk), not the struct itself. */
void raftMessageClose(struct raft_message *m);

/* Codec (format: docs/raft.md). Version byte RAFT_MSG_VERSION.
 * Encode: *out allocated with libMalloc, the caller frees it.
 * Decode: fills `m` (the caller raftMessageClose-s it on success); never
 * reads outside buf[0..len); every length is bounded by the limits above;
 * ERR_MALFORMED for bad input, ERR_UNSUPPORTED for an unknown version,
 * ERR_TOOBIG past a limit, ERR_NOMEM. On error nothing is left to free. */
#define RAFT_MSG_VERSION 1
int raftMessageEncode(const struct raft_message *m, uint8_t **out, size_t *len);
int raftMessageDecode(const uint8_t *buf, size_t len, struct raft_message *m);

/* The same bytes as raftMessageEncode, without copying large payloads:
 * `pieces`, written one after the other (a gather write), make the encoded
 * message. Every entry payload (and snapshot chunk) of RAFT_SHARE_MIN_BYTES
 * or more is a piece of its own that points into the payload block and holds
 * a reference to it (raftPayloadRef); all other bytes are copied into
 * `head`, which the other pieces point into. So a message to each of N
 * followers costs N small heads and no copy of the entries (issue 17).
 * Release with raftEncodedClose (on the thread that owns the payloads'
 * counters: the core's). Errors as raftMessageEncode; on error nothing is
 * left to release. */
#define RAFT_SHARE_MIN_BYTES (16u << 10)
struct raft_piece {
    const uint8_t *data;
    size_t len;
    bool shared; /* a payload block: the encoding holds a reference */
};
struct raft_encoded {
    uint8_t *head;             /* libMalloc'd: the bytes not shared */
    struct raft_piece *pieces; /* libMalloc'd */
    unsigned n_pieces;
    size_t len; /* the whole message: sum of the pieces' lengths */
};
int raftMessageEncodeShared(const struct raft_message *m,
                            struct raft_encoded *out);
void raftEncodedClose(struct raft_encoded *e);

/* ------------------------------------------------------------ options */

enum raft_state {
    RAFT_FOLLOWER = 1,
    RAFT_CANDIDATE = 2, /* also while pre-voting */
    RAFT_LEADER = 3,
};

struct raft_options {
    unsigned election_timeout_ms;  /* base; each election waits a random
                                      time in [base, 2 * base) */
    unsigned heartbeat_timeout_ms; /* leader heartbeat interval (< election) */
    /* Randomness: rand_fn(rand_arg) when set, else a generator in the core
     * seeded with `seed`. Either way deterministic for a given input. */
    uint64_t (*rand_fn)(void *rand_arg);
    void *rand_arg;
    uint64_t seed;
    unsigned max_inflight_msgs;  /* appends in flight per follower */
    size_t max_inflight_bytes;   /* ... and their payload bytes (0: any) */
    unsigned max_append_entries; /* entries per AppendEntries */
    size_t max_append_bytes;     /* payload bytes per AppendEntries */
    unsigned snapshot_trailing;  /* entries kept behind a snapshot */
    unsigned snapshot_hold_max;  /* leader: entries kept behind a snapshot
                                    in flight to a follower, beyond
                                    snapshot_trailing (0: none kept) */
    size_t snapshot_chunk_bytes; /* InstallSnapshot chunk size */
    /* Entry payload bytes the log keeps in memory (0: no bound). Beyond
     * it, entries a snapshot covers are dropped, oldest first, whatever
     * snapshot_trailing would keep; a snapshot in flight keeps at most
     * snapshot_hold_bytes more (and snapshot_hold_max entries). Entries
     * no snapshot covers yet stay: the embedder takes a snapshot once
     * those pass half the bound (raftLogBytes). docs/raft.md, "Memory". */
    size_t entry_cache_bytes;
    size_t snapshot_hold_bytes;
    bool pre_vote;
    bool check_quorum;
    /* Leader leases (docs/raft.md "Leader leases"): while a quorum of
     * voters acknowledged heartbeats sent within the last election timeout
     * less the drift bound (lease_drift_permille of it), raftReadIndex
     * answers at once, with no round trip. Needs check_quorum (followers
     * ignore vote requests for an election timeout after hearing from a
     * leader) and assumes the clocks of the nodes advance at rates that
     * differ by less than the bound. Every node must then raftTick with
     * the current time before each raftStep: the time of receipt is when
     * a follower heard from its leader. Off by default. */
    bool read_lease;
    unsigned lease_drift_permille; /* 1..999 */
};

/* Defaults: election 1000 ms, heartbeat 100 ms, 64 msgs / 8 MiB in flight,
 * 256 entries / 1 MiB per append, 128 trailing, 8192 held for a snapshot in
 * flight, 1 MiB chunks, a 64 MiB entry cache and 64 MiB more held for a
 * snapshot in flight, pre-vote and check-quorum on, leases off with a drift
 * bound of 100 permille (10%) of the election timeout. */
void raftOptionsDefault(struct raft_options *o);

/* ------------------------------------------------------------ ready batch */

/* One outgoing message. `address` points into the core's configuration. */
struct raft_send {
    uint64_t to;
    const char *address;
    struct raft_message message;
};

/* Leader side of InstallSnapshot: read `len` bytes (fewer at the end of the
 * file) at `offset` of the snapshot taken at `index` and hand them to
 * raftSnapshotChunk; or call raftReportSnapshot(to, false) on failure. */
struct raft_snapshot_read {
    uint64_t to;
    uint64_t index;
    uint64_t term;
    uint64_t offset;
    size_t len;
};

/* Follower side: write these bytes to the incoming snapshot file. */
struct raft_snapshot_write {
    uint64_t index;
    uint64_t term;
    uint64_t offset; /* 0 starts a new file */
    const uint8_t *data;
    size_t len;
    bool last; /* the file is complete after this chunk */
};

struct raft_read_state {
    uint64_t ctx;   /* the caller's raftReadIndex context */
    uint64_t index; /* serve the read once this index is applied */
    bool failed;    /* follower read: no answer from the leader (it does not
                       lead, leadership changed, or none came within an
                       election timeout); `index` is 0 */
};

/* Something the I/O side should log: the core has no I/O of its own. */
enum raft_notice_kind {
    RAFT_NOTICE_NONE = 0,
    RAFT_NOTICE_NOT_MEMBER = 1, /* refused: the sender is not a member of
                                   the configuration */
    RAFT_NOTICE_WRONG_TO = 2,   /* refused: addressed to another node */
    RAFT_NOTICE_COMMITTED = 3,  /* refused: an AppendEntries contradicts
                                   the committed log (corruption or an
                                   attack); `index` is the entry */
    RAFT_NOTICE_REGRESSED = 4,  /* a follower holds less than it had
                                   acknowledged (lost or restored data):
                                   `index` was its match, `last` its
                                   last index; probing again */
    RAFT_NOTICE_KINDS = 5,
};

struct raft_notice {
    int kind; /* enum raft_notice_kind */
    uint8_t msg_type;
    uint64_t from;
    uint64_t to;
    uint64_t term;
    uint64_t index;
    uint64_t last;
};

struct raft_ready {
    /* Messages that may be sent right away. */
    struct raft_send *messages;
    unsigned n_messages;

    /* Durable writes. */
    uint64_t truncate_from; /* 0 = none */
    struct raft_entry *entries;
    uint64_t entries_index; /* index of entries[0] */
    unsigned n_entries;
    bool has_hard_state;
    struct raft_hard_state hard_state;
    bool has_snapshot_chunk;
    struct raft_snapshot_write snapshot_chunk;

    /* After the writes are durable. */
    struct raft_send *messages_after_persist;
    unsigned n_messages_after_persist;
    bool has_snapshot_install;
    struct raft_snapshot_meta snapshot_install;

    /* Apply in order. */
    struct raft_entry *committed;
    uint64_t committed_index; /* index of committed[0] */
    unsigned n_committed;

    struct raft_read_state *reads;
    unsigned n_reads;
    struct raft_snapshot_read *snapshot_reads;
    unsigned n_snapshot_reads;

    /* Notifications. */
    bool state_changed; /* state or leader differ from the last batch */
    int state;          /* enum raft_state */
    uint64_t leader_id; /* 0 = unknown */
    uint64_t term;
    bool conf_changed;     /* configuration (appended, committed or
                              rolled back) differs from the last batch */
    uint64_t conf_index;   /* index of the configuration in effect */
    bool conf_committed;   /* ...and it is committed */
    bool conf_rolled_back; /* an uncommitted configuration was dropped */
    bool transfer_failed;  /* a raftTransfer gave up */

    /* Notices since the previous batch: how many, and the first one (log
     * it; rate-limiting is the I/O side's business). */
    unsigned n_notices;
    struct raft_notice notice;
};

/* ------------------------------------------------------------ the core */

struct raft; /* opaque: allocated by raftCreate */

/*
 * Creates a node from its persisted state:
 *   - id: this node (> 0);
 *   - hs: last written hard state (zeroes for a new node);
 *   - snap: metadata of the last snapshot, NULL when there is none (the core
 *     copies it);
 *   - entries: every persisted log entry, the first one with index
 *     `first_index` (snap->index + 1 or lower: trailing entries may overlap
 *     the snapshot; 1 without a snapshot). The core takes a new reference
 *     to each payload; the caller keeps its own.
 * A node with no configuration (new, not bootstrapped) waits to be contacted
 * by a leader. ERR_INVALID for inconsistent state, ERR_NOMEM.
 */
int raftCreate(uint64_t id, const struct raft_options *opts,
               const struct raft_hard_state *hs,
               const struct raft_snapshot_meta *snap,
               const struct raft_entry *entries, unsigned n_entries,
               uint64_t first_index, uint64_t now_ms, struct raft **out);
/* Frees the node; an outstanding batch must be advanced or discarded. */
void raftDestroy(struct raft *r);

/* Time passes: now_ms never goes backwards. */
void raftTick(struct raft *r, uint64_t now_ms);

/* A message arrived; `m` is borrowed (the core takes references to what it
 * keeps). Messages for another node, from ourselves, from a server that is
 * not a member of the configuration (once this node is a member of one),
 * appends that contradict the committed log, and inconsistent ones (a
 * broken peer) are refused; refusals of the first, third and fourth kind
 * are reported as notices (ready.notice). Returns ERR_NOMEM only.
 *
 * Out of memory, here and in every other input: the call's effect is lost
 * as if the message (or request) had been, which raft tolerates; the one
 * exception is a configuration that cannot be decoded while a snapshot is
 * installed or a log truncated, which leaves the previous configuration in
 * effect. A caller that cannot tell should destroy the node and recreate it
 * from its persisted state (always safe). */
int raftStep(struct raft *r, const struct raft_message *m);

/* Leader only (ERR_NOTLEADER; ERR_LEADERSHIP_LOST while transferring).
 * The core takes a reference to `data` (a payload block, may be NULL with
 * len 0). *index / *term: where the entry will be committed. */
int raftPropose(struct raft *r, uint8_t *data, size_t len, uint64_t *index,
                uint64_t *term);
/* A no-op entry: committed means every earlier entry is applied first. */
int raftBarrier(struct raft *r, uint64_t *index, uint64_t *term);

/* Membership, leader only, one change at a time (ERR_CONFIG_BUSY while an
 * appended configuration is not committed or a promotion is catching up).
 * Add: as a spare (ERR_DUPLICATE_NODE). Assign: promoting to voter first
 * catches the server up (its log reaches the leader's in one round), then
 * appends the configuration. Remove: a removed leader steps down once the
 * configuration commits. ERR_UNKNOWN_NODE, ERR_BAD_ROLE. *index: of the
 * configuration entry (0 while a promotion is still catching up). */
int raftAddServer(struct raft *r, uint64_t id, const char *address,
                  uint64_t *index);
int raftAssignRole(struct raft *r, uint64_t id, int role, uint64_t *index);
int raftRemoveServer(struct raft *r, uint64_t id, uint64_t *index);

/* Hands leadership to `target` (0: the most up-to-date voter): stops taking
 * proposals, catches the target up, sends it TimeoutNow. Gives up after an
 * election timeout (ready.transfer_failed). */
int raftTransfer(struct raft *r, uint64_t target);

/* The most up-to-date voter among `ids` (not this node), 0 if none is a
 * voter: the embedder's choice of a transfer target it knows is reachable. */
uint64_t raftTransferPickFrom(const struct raft *r, const uint64_t *ids,
                              unsigned n_ids);

/* Linearizable read at time `now_ms` (the caller's monotonic clock, read
 * just now: a lease is judged against it): once the leader has committed
 * an entry of its term and a quorum has confirmed its leadership after
 * this call, ready.reads holds {ctx, index}. With a valid lease
 * (options.read_lease) the confirmation is the lease and the read is in
 * the next batch. A follower that knows its leader asks it (ReadIndex)
 * and ready.reads holds the leader's {ctx, index}, or {ctx, failed} when
 * the leader refuses, the term or leader changes, or no answer comes
 * within an election timeout. ERR_NOTLEADER elsewhere (a candidate, a
 * follower that knows no leader). */
int raftReadIndex(struct raft *r, uint64_t ctx, uint64_t now_ms);

/* Follower: the data up to *index (this node's commit index when it last
 * heard from its leader and had caught up with the leader's commit index
 * that message carried) was the leader's at most `max_ms` before `now_ms`
 * (plus the message's one-way delay). False when that contact is older,
 * or this node is no follower of a known leader. A view. */
bool raftFollowerFresh(const struct raft *r, uint64_t now_ms, uint64_t max_ms,
                       uint64_t *index);

/* Leader: the lease is valid at `now_ms` (options.read_lease on, an entry
 * of this term committed, no transfer begun in this term, a quorum's
 * acknowledgements recent enough). A view: changes nothing. */
bool raftLeaseValid(const struct raft *r, uint64_t now_ms);

/* Taking a snapshot: the application serializes its state at `index`
 * (<= the last index it applied); raftSnapshotMetaAt gives the metadata to
 * store with it (fills an uninitialised `meta`, the caller closes it with
 * raftSnapshotMetaClose); once data and metadata are durable,
 * raftSnapshotTaken records it and the core forgets its log up to
 * index - snapshot_trailing (the I/O layer may delete those entries too).
 * ERR_INVALID for an index not applied or already compacted. */
int raftSnapshotMetaAt(const struct raft *r, uint64_t index,
                       struct raft_snapshot_meta *meta);
void raftSnapshotMetaClose(struct raft_snapshot_meta *meta);
int raftSnapshotTaken(struct raft *r, uint64_t index);

/* Leader: the oldest snapshot a transfer to a follower still reads, when
 * it is not the newest one (0: none). Besides the two newest snapshots,
 * the I/O layer keeps this one when it cleans up: deleting it would
 * restart the transfer with a newer snapshot, and a follower whose
 * transfer outlasts two snapshot intervals would chase snapshots forever.
 * (Transfers share the oldest snapshot in flight, so there is one.) */
uint64_t raftSnapshotPinned(const struct raft *r);

/* Leader: bytes asked for by a raft_snapshot_read. `data` is borrowed;
 * `last` when they end the file. Stale answers are ignored. */
int raftSnapshotChunk(struct raft *r, uint64_t to, uint64_t index,
                      uint64_t offset, const uint8_t *data, size_t len,
                      bool last);

/* The transport could not reach a peer: replication falls back to probing. */
void raftReportUnreachable(struct raft *r, uint64_t id);
/* Sending a snapshot to `id` failed (false) or the I/O layer gives up. */
void raftReportSnapshot(struct raft *r, uint64_t id, bool ok);

/* Durability reports for callers that learn them before raftAdvance. */
void raftPersisted(struct raft *r, uint64_t index, uint64_t term);
void raftSnapshotPersisted(struct raft *r, uint64_t index, uint64_t term);

/* Output. raftReady: ERR_NOMEM only (nothing is lost: call again).
 * raftDiscard releases a batch WITHOUT acknowledging it: for a caller that
 * is shutting down or crashed before the writes were durable; the node
 * must then be destroyed (its memory no longer matches the disk). */
bool raftHasReady(const struct raft *r);
int raftReady(struct raft *r, struct raft_ready *rd);
/* While a batch is outstanding (raftReady called, raftAdvance not yet):
 * passes each message that may leave at once -- ready step 1: AppendEntries
 * and heartbeats of a leader, snapshot chunks, TimeoutNow; never one that
 * promises something about the local disk -- to `send`, in the order they
 * were made, then releases it: the message and its address are valid during
 * the call only. Raft §10.2.1: the leader replicates entries while it
 * writes them to its own disk; it counts itself in a quorum only once
 * raftPersisted (raftAdvance) says they are durable. Nothing is handed out
 * while a term or vote is not yet durable (the outstanding batch writes
 * one, or one changed since): those messages wait for the next batch. */
typedef void (*raft_send_fn)(void *arg, const struct raft_send *s);
void raftSendNow(struct raft *r, raft_send_fn send, void *arg);

void raftAdvance(struct raft *r, struct raft_ready *rd);
void raftDiscard(struct raft *r, struct raft_ready *rd);

/* Read-only views. */
uint64_t raftId(const struct raft *r);
int raftState(const struct raft *r);
uint64_t raftLeader(const struct raft *r);
uint64_t raftTerm(const struct raft *r);
uint64_t raftCommitIndex(const struct raft *r);
uint64_t raftLastIndex(const struct raft *r);
uint64_t raftLastApplied(const struct raft *r);
/* The configuration in effect (latest appended); borrowed. */
const struct raft_configuration *raftConfiguration(const struct raft *r);
/* Whether a message from a server outside the configuration would be
 * taken now: on a node outside its own configuration (new or removed), and
 * on a follower or candidate that has not heard from a leader for an
 * election timeout (its log may lack the entry adding the current leader);
 * never on a leader. docs/raft.md, "Refused messages". */
bool raftAcceptsStrangers(const struct raft *r);
/* Notices of `kind` since the node was created. */
uint64_t raftNoticeCount(const struct raft *r, int kind);
/* Payload bytes the log holds in memory of the entries with index in
 * (after, upto]: raftLogBytes(r, 0, UINT64_MAX) is all of them. */
uint64_t raftLogBytes(const struct raft *r, uint64_t after, uint64_t upto);
/* Term of the entry at `index` if the core knows it, else 0. */
uint64_t raftTermAt(const struct raft *r, uint64_t index);
/* Leader only: the highest index known replicated on server `id` (its
 * match index, Raft paper Figure 2), this leader's last index for itself;
 * 0 on a non-leader or for a server it does not track. */
uint64_t raftMatchIndex(const struct raft *r, uint64_t id);

#endif /* RAFT_RAFT_H */
