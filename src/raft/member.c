/*
 * Membership and leadership: which configuration is in effect (the latest
 * appended one, rolled back when its entry is truncated), the per-server
 * progress that follows it, one-at-a-time changes (add as spare, promote
 * after a catch-up round, demote, remove), the leader's timers (heartbeat,
 * check-quorum, transfer and promotion deadlines) and leadership transfer.
 */
#include <string.h>

#include "lib/alloc.h"
#include "lib/assert.h"
#include "lib/err.h"
#include "raft/core.h"

/* Catch-up rounds a promotion may take before it is abandoned. */
#define PROMOTION_MAX_ROUNDS 10

/* ------------------------------------------------------------ tracking */

static int raftProgressNew(struct raft *r, uint64_t id,
                           struct raft_progress *pr)
{
    memset(pr, 0, sizeof *pr);
    pr->id = id;
    pr->inflight = libMalloc(r->o.max_inflight_msgs * sizeof *pr->inflight);
    if (pr->inflight == NULL) {
        return ERR_NOMEM;
    }
    raftProgressReset(r, pr);
    pr->recent_active = true; /* new servers get one check-quorum period */
    return 0;
}

static void raftProgressFree(struct raft *r)
{
    for (unsigned i = 0; i < r->n_prs; i++) {
        libFree(r->prs[i].inflight);
    }
    libFree(r->prs);
    r->prs = NULL;
    r->n_prs = 0;
}

/* One progress per other server of the configuration, kept across
 * rebuilds; none unless leading or campaigning. */
int raftProgressRebuild(struct raft *r)
{
    struct raft_progress *prs;
    unsigned n = 0;
    if (r->state == RAFT_FOLLOWER || r->conf.n == 0) {
        raftProgressFree(r);
        return 0;
    }
    prs = libCalloc(r->conf.n, sizeof *prs);
    if (prs == NULL) {
        return ERR_NOMEM;
    }
    for (unsigned i = 0; i < r->conf.n; i++) {
        uint64_t id = r->conf.servers[i].id;
        struct raft_progress *old = raftProgress(r, id);
        if (id == r->id) {
            continue;
        }
        if (old != NULL) {
            prs[n] = *old;
            old->inflight = NULL;
        } else if (raftProgressNew(r, id, &prs[n]) != 0) {
            n++;
            goto err_after_prs;
        }
        n++;
    }
    raftProgressFree(r);
    r->prs = prs;
    r->n_prs = n;
    return 0;
err_after_prs:
    for (unsigned i = 0; i < n; i++) {
        struct raft_progress *old = raftProgress(r, prs[i].id);
        if (old != NULL && old->inflight == NULL) {
            old->inflight = prs[i].inflight; /* give it back */
        } else {
            libFree(prs[i].inflight);
        }
    }
    libFree(prs);
    return ERR_NOMEM;
}

static int raftConfSet(struct raft *r, struct raft_configuration *conf,
                       uint64_t index)
{
    raftConfClose(&r->conf);
    r->conf = *conf;
    r->conf_index = index;
    if (r->promotee != 0 && raftConfGet(&r->conf, r->promotee) == NULL) {
        r->promotee = 0;
    }
    return raftProgressRebuild(r);
}

int raftConfRebuild(struct raft *r)
{
    struct raft_configuration conf;
    uint64_t last = logLastIndex(&r->log);
    int rv;
    for (uint64_t i = last; i > r->log.offset; i--) {
        const struct raft_entry *e = logGet(&r->log, i);
        if (e->type == RAFT_CHANGE) {
            rv = raftConfDecode(e->data, e->len, &conf);
            return rv != 0 ? rv : raftConfSet(r, &conf, i);
        }
    }
    if (!r->has_snap) {
        raftConfInit(&conf);
        return raftConfSet(r, &conf, 0);
    }
    rv = raftConfCopy(&r->snap.conf, &conf);
    return rv != 0 ? rv : raftConfSet(r, &conf, r->snap.conf_index);
}

int raftConfOnAppend(struct raft *r, const struct raft_entry *e, uint64_t index)
{
    struct raft_configuration conf;
    int rv = raftConfDecode(e->data, e->len, &conf);
    if (rv != 0) {
        return rv;
    }
    return raftConfSet(r, &conf, index);
}

int raftConfRollback(struct raft *r)
{
    r->conf_rolled_back = true;
    return raftConfRebuild(r);
}

int raftOnCommitAdvance(struct raft *r, uint64_t old_commit)
{
    if (r->state != RAFT_LEADER) {
        return 0;
    }
    if (r->conf_index > old_commit && r->conf_index <= r->commit &&
        !raftIsVoter(r, r->id)) {
        raftBecomeFollower(r, r->term, 0); /* removed or demoted */
        return 0;
    }
    if (raftTermAt(r, r->commit) == r->term &&
        raftTermAt(r, old_commit) != r->term) {
        return raftReadStartRounds(r);
    }
    return 0;
}

/* ------------------------------------------------------------ changes */

static int raftChangeAllowed(const struct raft *r)
{
    if (r->state != RAFT_LEADER) {
        return ERR_NOTLEADER;
    }
    if (r->conf_index > r->commit || r->promotee != 0 ||
        raftTermAt(r, r->commit) != r->term) {
        return ERR_CONFIG_BUSY;
    }
    return 0;
}

/* Appends `conf` as a RAFT_CHANGE entry; `conf` is closed either way. */
static int raftAppendConf(struct raft *r, struct raft_configuration *conf,
                          uint64_t *index)
{
    uint8_t *data;
    size_t len;
    int rv = raftConfEncodePayload(conf, &data, &len);
    raftConfClose(conf);
    if (rv != 0) {
        return rv;
    }
    if (index != NULL) {
        *index = logLastIndex(&r->log) + 1;
    }
    rv = raftAppendLocal(r, RAFT_CHANGE, data, len);
    raftPayloadUnref(data);
    return rv;
}

int raftAddServer(struct raft *r, uint64_t id, const char *address,
                  uint64_t *index)
{
    struct raft_configuration conf;
    int rv = raftChangeAllowed(r);
    if (rv != 0) {
        return rv;
    }
    rv = raftConfCopy(&r->conf, &conf);
    if (rv == 0) {
        rv = raftConfAdd(&conf, id, address, RAFT_SPARE);
    }
    if (rv != 0) {
        raftConfClose(&conf);
        return rv;
    }
    return raftAppendConf(r, &conf, index);
}

static int raftConfWithRole(const struct raft *r, uint64_t id, int role,
                            struct raft_configuration *conf)
{
    int rv = raftConfCopy(&r->conf, conf);
    if (rv != 0) {
        return rv;
    }
    for (unsigned i = 0; i < conf->n; i++) {
        if (conf->servers[i].id == id) {
            conf->servers[i].role = role;
        }
    }
    if (raftConfVoters(conf) == 0) {
        raftConfClose(conf);
        return ERR_BAD_ROLE;
    }
    return 0;
}

int raftAssignRole(struct raft *r, uint64_t id, int role, uint64_t *index)
{
    struct raft_configuration conf;
    const struct raft_server *s;
    int rv = raftChangeAllowed(r);
    if (rv != 0) {
        return rv;
    }
    if ((s = raftConfGet(&r->conf, id)) == NULL) {
        return ERR_UNKNOWN_NODE;
    }
    if (role < RAFT_VOTER || role > RAFT_SPARE || s->role == role) {
        return ERR_BAD_ROLE;
    }
    struct raft_progress *pr = raftProgress(r, id);
    if (role == RAFT_VOTER && pr != NULL && pr->match < logLastIndex(&r->log)) {
        r->promotee = id;
        r->promotee_role = role;
        r->promotee_round_index = logLastIndex(&r->log);
        r->promotee_round_ms = r->promotee_start_ms = r->now_ms;
        *index = 0;
        return raftSendAppend(r, pr, true);
    }
    rv = raftConfWithRole(r, id, role, &conf);
    return rv != 0 ? rv : raftAppendConf(r, &conf, index);
}

int raftRemoveServer(struct raft *r, uint64_t id, uint64_t *index)
{
    struct raft_configuration conf;
    int rv = raftChangeAllowed(r);
    if (rv != 0) {
        return rv;
    }
    if (raftConfGet(&r->conf, id) == NULL) {
        return ERR_UNKNOWN_NODE;
    }
    raftConfInit(&conf);
    for (unsigned i = 0; i < r->conf.n && rv == 0; i++) {
        const struct raft_server *s = &r->conf.servers[i];
        if (s->id != id) {
            rv = raftConfAdd(&conf, s->id, s->address, s->role);
        }
    }
    if (rv == 0 && raftConfVoters(&conf) == 0) {
        rv = ERR_BAD_ROLE;
    }
    if (rv != 0) {
        raftConfClose(&conf);
        return rv;
    }
    return raftAppendConf(r, &conf, index);
}

/* A catch-up round ended when the promotee reached the round's index:
 * promote if it took less than an election timeout, else go again. */
int raftPromoteeCheck(struct raft *r, struct raft_progress *pr)
{
    struct raft_configuration conf;
    if (pr->id != r->promotee || pr->match < r->promotee_round_index) {
        return 0;
    }
    if (r->now_ms - r->promotee_round_ms >= r->o.election_timeout_ms) {
        r->promotee_round_index = logLastIndex(&r->log);
        r->promotee_round_ms = r->now_ms;
        return 0;
    }
    r->promotee = 0;
    int rv = raftConfWithRole(r, pr->id, r->promotee_role, &conf);
    return rv != 0 ? rv : raftAppendConf(r, &conf, NULL);
}

/* ------------------------------------------------------------ transfer */

/* Whether `id` is in ids[0..n_ids), or ids is NULL (any server). */
static bool raftTransferListed(const struct raft *r, uint64_t id,
                               const uint64_t *ids, unsigned n_ids)
{
    if (ids == NULL) {
        return true;
    }
    for (unsigned j = 0; j < n_ids; j++) {
        if (ids[j] == id) {
            return id != r->id;
        }
    }
    return false;
}

/* The voter with the highest match among the listed (NULL: all). */
static uint64_t raftTransferBest(const struct raft *r, const uint64_t *ids,
                                 unsigned n_ids)
{
    uint64_t best = 0, best_match = 0;
    for (unsigned i = 0; i < r->n_prs; i++) {
        const struct raft_progress *pr = &r->prs[i];
        if (raftTransferListed(r, pr->id, ids, n_ids) &&
            raftIsVoter(r, pr->id) && (best == 0 || pr->match > best_match)) {
            best = pr->id;
            best_match = pr->match;
        }
    }
    return best;
}

uint64_t raftTransferPickFrom(const struct raft *r, const uint64_t *ids,
                              unsigned n_ids)
{
    static const uint64_t none = 0;
    return raftTransferBest(r, ids != NULL ? ids : &none, n_ids);
}

int raftTransfer(struct raft *r, uint64_t target)
{
    struct raft_progress *pr;
    if (r->state != RAFT_LEADER) {
        return ERR_NOTLEADER;
    }
    if (r->transfer_target != 0) {
        return ERR_BUSY;
    }
    if (target == 0 && (target = raftTransferBest(r, NULL, 0)) == 0) {
        return ERR_INVALID;
    }
    if (target == r->id || raftConfGet(&r->conf, target) == NULL) {
        return ERR_UNKNOWN_NODE;
    }
    if (!raftIsVoter(r, target)) {
        return ERR_BAD_ROLE;
    }
    pr = raftProgress(r, target);
    /* The target will campaign with disrupt_leader, which followers grant
     * whatever lease they promised: the lease ends now, for this term
     * (a TimeoutNow may arrive late, after the transfer gave up). */
    r->lease_ended = true;
    r->transfer_target = target;
    r->transfer_start_ms = r->now_ms;
    pr->transfer_sent = false;
    int rv = raftTransferCheck(r, pr);
    return rv != 0 ? rv : raftSendAppend(r, pr, true);
}

int raftTransferCheck(struct raft *r, struct raft_progress *pr)
{
    struct raft_message m = {0};
    if (pr->id != r->transfer_target || pr->transfer_sent ||
        pr->match < logLastIndex(&r->log)) {
        return 0;
    }
    pr->transfer_sent = true;
    m.type = RAFT_MSG_TIMEOUT_NOW;
    m.to = pr->id;
    m.term = r->term;
    m.timeout_now.last_index = logLastIndex(&r->log);
    m.timeout_now.last_term = logLastTerm(&r->log);
    return raftSend(r, &m, false);
}

/* ------------------------------------------------------------ timers */

/* Steps down unless a quorum of voters was heard from in the last election
 * timeout. Returns true when it stepped down. */
static bool raftCheckQuorum(struct raft *r)
{
    unsigned active = raftIsVoter(r, r->id) ? 1 : 0;
    for (unsigned i = 0; i < r->n_prs; i++) {
        if (raftIsVoter(r, r->prs[i].id) && r->prs[i].recent_active) {
            active++;
        }
        r->prs[i].recent_active = false;
    }
    r->quorum_check_ms = r->now_ms;
    if (active >= raftQuorum(r)) {
        return false;
    }
    raftBecomeFollower(r, r->term, 0);
    return true;
}

static void raftLeaderDeadlines(struct raft *r)
{
    uint64_t timeout = r->o.election_timeout_ms;
    if (r->transfer_target != 0 &&
        r->now_ms - r->transfer_start_ms >= timeout) {
        r->transfer_target = 0;
        r->transfer_failed = true;
    }
    if (r->promotee != 0 &&
        r->now_ms - r->promotee_start_ms >= PROMOTION_MAX_ROUNDS * timeout) {
        r->promotee = 0;
    }
}

int raftLeaderTick(struct raft *r)
{
    int rv = 0;
    if (r->o.check_quorum &&
        r->now_ms - r->quorum_check_ms >= r->o.election_timeout_ms &&
        raftCheckQuorum(r)) {
        return 0;
    }
    raftLeaderDeadlines(r);
    if (r->now_ms - r->heartbeat_ms >= r->o.heartbeat_timeout_ms) {
        r->heartbeat_ms = r->now_ms;
        rv = raftHeartbeat(r);
    }
    return rv != 0 ? rv : raftSnapshotTick(r);
}
