/* The cluster client: leader, cluster, describe, weight, add/assign,
 * remove, transfer, dump, join/leave, byte for byte against the captured
 * vectors where they exist. */
#include <criterion/criterion.h>
#include <dqlite_client.h>
#include <string.h>

#include "client/client.h"
#include "tcluster.h"

TestSuite(cluster, .init = fakeWatchdog);

static struct fake_replay *replay;
static struct dqlite_server_store *store;
static struct dqlite_driver *driver;

static struct dqlite_client *replayStart(const char *file)
{
    struct dqlite_driver_options o;
    struct dqlite_client *cl;
    replay = fakeReplayStart(file);
    cr_assert_not_null(replay, "vectors not found");
    dqlite_driver_options_init(&o);
    o.dial = fakeReplayDial;
    o.dial_arg = replay;
    cr_assert_eq(dqlite_server_store_create(&store), 0);
    cr_assert_eq(dqlite_driver_create(store, &o, &driver), 0);
    cr_assert_eq(dqlite_client_connect(driver, "127.0.0.1:29001", &cl), 0);
    return cl;
}

static void replayStop(struct dqlite_client *cl)
{
    dqlite_client_close(cl);
    for (int i = 0; i < 100 && !fakeReplayDone(replay); i++) {
        clientSleepMs(10);
    }
    cr_assert_eq(fakeReplayErrors(replay), 0);
    cr_assert(fakeReplayDone(replay));
    fakeReplayStop(replay);
    dqlite_driver_destroy(driver);
    dqlite_server_store_close(store);
}

Test(cluster, leader_cluster_describe_weight_as_captured)
{
    struct dqlite_client *cl = replayStart("02-client-api.txt");
    struct dqlite_server_info *servers;
    unsigned n;
    uint64_t id;
    char *address;
    uint64_t domain;
    uint64_t weight;
    cr_assert_eq(dqlite_client_leader(cl, &id, &address), 0);
    cr_assert_eq(id, 1);
    cr_assert_str_eq(address, "127.0.0.1:29001");
    dqlite_client_free(address);
    cr_assert_eq(dqlite_client_cluster(cl, &servers, &n), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(servers[0].id, 1);
    cr_assert_eq(servers[0].role, DQLITE_VOTER);
    dqlite_server_info_free(servers, n);
    cr_assert_eq(dqlite_client_describe(cl, &domain, &weight), 0);
    cr_assert_eq(domain, 7);
    cr_assert_eq(weight, 0);
    cr_assert_eq(dqlite_client_weight(cl, 5), 0);
    cr_assert_eq(dqlite_client_describe(cl, &domain, &weight), 0);
    cr_assert_eq(weight, 5);
    replayStop(cl);
}

Test(cluster, add_assign_as_captured)
{
    struct dqlite_client *cl = replayStart("21-add-nodes.txt");
    struct dqlite_server_info *servers;
    unsigned n;
    cr_assert_eq(dqlite_client_add(cl, 2, "127.0.0.1:29003", DQLITE_VOTER), 0);
    cr_assert_eq(dqlite_client_add(cl, 3, "127.0.0.1:29005", DQLITE_SPARE), 0);
    cr_assert_eq(dqlite_client_cluster(cl, &servers, &n), 0);
    cr_assert_eq(n, 3);
    cr_assert_eq(servers[2].role, DQLITE_SPARE);
    dqlite_server_info_free(servers, n);
    replayStop(cl);
}

Test(cluster, dump_as_captured)
{
    struct dqlite_client *cl = replayStart("10-dump.txt");
    struct dqlite_file *files;
    unsigned n;
    cr_assert_eq(dqlite_client_dump(cl, "demo", &files, &n), 0);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(files[0].name, "demo");
    cr_assert_eq(files[0].size, 4096);
    cr_assert_eq(memcmp(files[0].data, "SQLite format 3", 15), 0);
    cr_assert_str_eq(files[1].name, "demo-wal");
    cr_assert_eq(files[1].size, 86552);
    dqlite_file_free(files, n);
    cr_assert_eq(dqlite_client_dump(cl, "nonexistent", &files, &n), 0);
    cr_assert_eq(n, 2);
    cr_assert_eq(files[0].size, 0);
    dqlite_file_free(files, n);
    replayStop(cl);
}

static bool membership(struct fake_conn *fc, struct tnode *node)
{
    (void)node;
    switch (fc->req.type) {
    case PROTO_REQ_REMOVE:
        if (fc->req.remove.id == 9) {
            fakeSendFailure(fc, 1, "server ID is not valid");
        } else {
            fakeSendEmpty(fc);
        }
        return true;
    case PROTO_REQ_TRANSFER:
        tclusterSetLeader(node->tc, (int)fc->req.transfer.id - 1);
        fakeSendEmpty(fc);
        return true;
    case PROTO_REQ_ADD:
    case PROTO_REQ_ASSIGN:
        fakeSendEmpty(fc);
        return true;
    default:
        return false;
    }
}

Test(cluster, remove_transfer_and_failures)
{
    struct tcluster *tc = tclusterStart(2, NULL);
    struct dqlite_client *cl;
    tc->hook = membership;
    cr_assert_eq(dqlite_client_connect_leader(tc->driver, &cl), 0);
    cr_assert_eq(dqlite_client_remove(cl, 2), 0);
    cr_assert_eq(dqlite_client_remove(cl, 9), DQLITE_CLIENT_ERROR);
    cr_assert_eq(dqlite_client_errcode(cl), 1);
    cr_assert_str_eq(dqlite_client_errmsg(cl), "server ID is not valid");
    cr_assert_eq(dqlite_client_transfer(cl, 2), 0);
    cr_assert_eq(tclusterLeader(tc), 1);
    cr_assert_eq(dqlite_client_assign(cl, 2, 7), DQLITE_CLIENT_MISUSE);
    dqlite_client_close(cl);
    cr_assert_eq(tclusterCount(tc, 0, PROTO_REQ_CLIENT), 1);
    tclusterStop(tc);
}

Test(cluster, join_and_leave_go_to_the_leader)
{
    struct tcluster *tc = tclusterStart(2, NULL);
    tc->hook = membership;
    tclusterSetLeader(tc, 1);
    cr_assert_eq(dqlite_driver_join(tc->driver, 5, "127.0.0.1:1", 0), 0);
    cr_assert_eq(tclusterCount(tc, 1, PROTO_REQ_ADD), 1);
    cr_assert_eq(tclusterCount(tc, 1, PROTO_REQ_ASSIGN), 1);
    cr_assert_eq(dqlite_driver_leave(tc->driver, 5), 0);
    cr_assert_eq(tclusterCount(tc, 1, PROTO_REQ_REMOVE), 1);
    cr_assert_eq(dqlite_driver_leave(tc->driver, 9), DQLITE_CLIENT_ERROR);
    tclusterStop(tc);
}

Test(cluster, connect_failure_is_reported)
{
    struct dqlite_server_store *st;
    struct dqlite_driver *d;
    struct dqlite_client *cl;
    cr_assert_eq(dqlite_server_store_create(&st), 0);
    cr_assert_eq(dqlite_driver_create(st, NULL, &d), 0);
    cr_assert_eq(dqlite_client_connect(d, "127.0.0.1:1", &cl),
                 DQLITE_CLIENT_IOERR);
    cr_assert(strstr(dqlite_client_errmsg(cl), "127.0.0.1:1") != NULL);
    cr_assert_eq(dqlite_client_describe(cl, &(uint64_t){0}, &(uint64_t){0}),
                 DQLITE_CLIENT_IOERR);
    dqlite_client_close(cl);
    dqlite_driver_destroy(d);
    dqlite_server_store_close(st);
}
