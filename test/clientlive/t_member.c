/*
 * The client-live tests of membership: the 4th node the runner started
 * (ours: not a member; the reference: joined by dqlite-demo as a stand-by)
 * is removed if it is a member, added as a spare, assigned every role,
 * removed again, then joined and left through the driver-level calls
 * (it ends outside the cluster, which the fail-over tests want made of the 3
 * voters only). Every step is checked in the leader's CLUSTER answer.
 */
#include <stdio.h>
#include <string.h>

#include "live.h"

#define NOT_MEMBER (-1)

/* A driver of the group's own: the reference's ASSIGN to voter runs raft's
 * catch-up rounds first and was once seen to take over 15 s. */
static struct dqlite_server_store *mb_store;
static struct dqlite_driver *mb_driver;

/* The extra node's role in the leader's configuration, or NOT_MEMBER. */
static int extraRole(struct dqlite_client *cl, int *role)
{
    struct dqlite_server_info *servers = NULL;
    unsigned n = 0;
    unsigned i;
    int rv = dqlite_client_cluster(cl, &servers, &n);
    *role = NOT_MEMBER;
    for (i = 0; rv == 0 && i < n; i++) {
        if (strcmp(servers[i].address, ctx->extra.address) == 0) {
            *role = servers[i].role;
            rv = servers[i].id == ctx->extra.id ? 0 : -1;
        }
    }
    dqlite_server_info_free(servers, n);
    return rv;
}

/* A fresh client on the leader, and the extra node's role. */
static int leaderRole(struct dqlite_client **cl, int *role)
{
    dqlite_client_close(*cl);
    *cl = NULL;
    if (dqlite_client_connect_leader(mb_driver, cl) != 0) {
        return -1;
    }
    return extraRole(*cl, role);
}

#define CHECK_ROLE(cl, want)                                      \
    do {                                                          \
        int role_ = -2;                                           \
        CHECK(extraRole(cl, &role_) == 0 && role_ == (want),      \
              "extra node: role %d (want %d): %s", role_, (want), \
              dqlite_client_errmsg(cl));                          \
    } while (0)

static void testAddAssignRemove(void)
{
    struct dqlite_client *cl = NULL;
    int64_t start_ms;
    int role = -2;
    CHECK(ctx->extra.alive, "no 4th node");
    if (ctx->extra.id == 0) { /* not in CLUSTER when the run started */
        CHECK(!ctx->reference, "the reference's 4th node never joined");
        ctx->extra.id = 4; /* ours: dqlited --id 4, waiting to be added */
    }
    CHECK(leaderRole(&cl, &role) == 0, "cluster: %s", dqlite_client_errmsg(cl));
    if (role != NOT_MEMBER) {
        CHECK_CL(cl, dqlite_client_remove(cl, ctx->extra.id), 0);
        CHECK_ROLE(cl, NOT_MEMBER);
    }
    CHECK_CL(
        cl,
        dqlite_client_add(cl, ctx->extra.id, ctx->extra.address, DQLITE_SPARE),
        0);
    CHECK_ROLE(cl, DQLITE_SPARE);
    CHECK_CL(cl, dqlite_client_assign(cl, ctx->extra.id, DQLITE_STANDBY), 0);
    CHECK_ROLE(cl, DQLITE_STANDBY);
    start_ms = liveNowMs();
    CHECK_CL(cl, dqlite_client_assign(cl, ctx->extra.id, DQLITE_VOTER), 0);
    if (liveNowMs() - start_ms > 5000) {
        printf("[NOTE] %s::%s: ASSIGN voter took %lld ms\n", ctx->server,
               ctx->current, (long long)(liveNowMs() - start_ms));
    }
    CHECK_ROLE(cl, DQLITE_VOTER);
    CHECK_CL(cl, dqlite_client_assign(cl, ctx->extra.id, DQLITE_SPARE), 0);
    CHECK_ROLE(cl, DQLITE_SPARE);
    CHECK_CL(cl, dqlite_client_remove(cl, ctx->extra.id), 0);
    CHECK_ROLE(cl, NOT_MEMBER);
    /* ADD with a role other than spare: ADD, then ASSIGN. */
    CHECK_CL(cl,
             dqlite_client_add(cl, ctx->extra.id, ctx->extra.address,
                               DQLITE_STANDBY),
             0);
    CHECK_ROLE(cl, DQLITE_STANDBY);
    CHECK_CL(
        cl,
        dqlite_client_add(cl, ctx->extra.id, ctx->extra.address, DQLITE_SPARE),
        DQLITE_CLIENT_ERROR);
    CHECK_CL(cl, dqlite_client_remove(cl, ctx->extra.id), 0);
    CHECK_ROLE(cl, NOT_MEMBER);
out:
    dqlite_client_close(cl);
}

/* dqlite_driver_join / dqlite_driver_leave, through the driver's store. */
static void testJoinLeave(void)
{
    struct dqlite_client *cl = NULL;
    int role = -2;
    CHECK(ctx->extra.alive && ctx->extra.id != 0, "no 4th node");
    CHECK(dqlite_driver_join(mb_driver, ctx->extra.id, ctx->extra.address,
                             DQLITE_SPARE) == 0,
          "join as spare");
    CHECK(leaderRole(&cl, &role) == 0 && role == DQLITE_SPARE,
          "role %d after join as spare", role);
    CHECK(dqlite_driver_leave(mb_driver, ctx->extra.id) == 0, "leave");
    CHECK(leaderRole(&cl, &role) == 0 && role == NOT_MEMBER,
          "role %d after leave", role);
    CHECK(dqlite_driver_leave(mb_driver, ctx->extra.id) == DQLITE_CLIENT_ERROR,
          "leave of a node that is not a member");
    CHECK(dqlite_driver_join(mb_driver, ctx->extra.id, ctx->extra.address,
                             DQLITE_STANDBY) == 0,
          "join as stand-by");
    CHECK(leaderRole(&cl, &role) == 0 && role == DQLITE_STANDBY,
          "role %d after join as stand-by", role);
    /* The fail-over tests want 3 voters and nobody else. */
    CHECK(dqlite_driver_leave(mb_driver, ctx->extra.id) == 0, "leave");
    CHECK(leaderRole(&cl, &role) == 0 && role == NOT_MEMBER,
          "role %d after the last leave", role);
out:
    dqlite_client_close(cl);
}

void liveMemberTests(void)
{
    const char *addrs[LIVE_NODES];
    struct dqlite_driver_options opts;
    unsigned i;
    for (i = 0; i < LIVE_NODES; i++) {
        addrs[i] = ctx->nodes[i].address;
    }
    dqlite_driver_options_init(&opts);
    opts.connect_timeout_ms = 15000;
    opts.call_timeout_ms = 60000;
    if (liveDriver(addrs, LIVE_NODES, &opts, &mb_store, &mb_driver) != 0) {
        printf("clientlive: no driver for the membership tests\n");
        ctx->failed++;
        return;
    }
    liveRun("member.add-assign-remove", testAddAssignRemove);
    liveRun("member.join-leave", testJoinLeave);
    liveDriverFree(mb_store, mb_driver);
    mb_store = NULL;
    mb_driver = NULL;
}
