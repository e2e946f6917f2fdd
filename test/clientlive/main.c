/*
 * clientlive: our C client (dqlite_client.h) against a live cluster that
 * test/clientlive/run.sh started, ours (dqlited) or the reference
 * (dqlite-demo). This file owns the command line, the run's shared driver
 * and the order of the test groups: those that keep the cluster whole
 * first, then membership and leadership changes, then fail-over, which
 * kills nodes (the last group leaves no node alive).
 *
 *   clientlive --server ours|reference --nodes A1,A2,A3 --pids P1,P2,P3
 *              --extra A4 --extra-pid P4 --dir DIR
 *
 * Prints one [PASS]/[FAIL] line per test and the summary line
 * "[====] client-live (SERVER): Tested: N | Passing: N | Failing: N";
 * exits 0 only if every test passed.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live.h"

struct live *ctx;

static int parseList(char *text, char out[][LIVE_ADDR_MAX], pid_t *pids)
{
    char *save = NULL;
    char *item;
    unsigned i = 0;
    for (item = strtok_r(text, ",", &save); item != NULL;
         item = strtok_r(NULL, ",", &save)) {
        if (i == LIVE_NODES) {
            return -1;
        }
        if (out != NULL) {
            snprintf(out[i], LIVE_ADDR_MAX, "%s", item);
        } else {
            pids[i] = (pid_t)atol(item);
        }
        i++;
    }
    return i == LIVE_NODES ? 0 : -1;
}

static int parseArgs(int argc, char **argv, struct live *lv)
{
    static const struct option opts[] = {
        {"server", required_argument, NULL, 's'},
        {"nodes", required_argument, NULL, 'n'},
        {"pids", required_argument, NULL, 'p'},
        {"extra", required_argument, NULL, 'e'},
        {"extra-pid", required_argument, NULL, 'E'},
        {"dir", required_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    char addrs[LIVE_NODES][LIVE_ADDR_MAX];
    pid_t pids[LIVE_NODES] = {0};
    bool have_nodes = false;
    unsigned i;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            lv->server = optarg;
            lv->reference = strcmp(optarg, "reference") == 0;
            break;
        case 'n':
            have_nodes = parseList(optarg, addrs, NULL) == 0;
            break;
        case 'p':
            parseList(optarg, NULL, pids);
            break;
        case 'e':
            snprintf(lv->extra.address, LIVE_ADDR_MAX, "%s", optarg);
            break;
        case 'E':
            lv->extra.pid = (pid_t)atol(optarg);
            break;
        case 'd':
            lv->dir = optarg;
            break;
        default:
            return -1;
        }
    }
    for (i = 0; have_nodes && i < LIVE_NODES; i++) {
        snprintf(lv->nodes[i].address, LIVE_ADDR_MAX, "%s", addrs[i]);
        lv->nodes[i].pid = pids[i];
        lv->nodes[i].alive = true;
    }
    lv->extra.alive = lv->extra.address[0] != '\0';
    return have_nodes && lv->server != NULL && lv->dir != NULL ? 0 : -1;
}

/* The shared driver: the 3 nodes in an in-memory store, generous timeouts
 * (the machine is shared, and SAN=1 nodes are slow). */
static int setup(void)
{
    const char *addrs[LIVE_NODES];
    struct dqlite_driver_options opts;
    struct live_node *leader;
    unsigned i;
    for (i = 0; i < LIVE_NODES; i++) {
        addrs[i] = ctx->nodes[i].address;
    }
    dqlite_driver_options_init(&opts);
    opts.connect_timeout_ms = 15000;
    opts.call_timeout_ms = 15000;
    if (liveDriver(addrs, LIVE_NODES, &opts, &ctx->store, &ctx->driver) != 0) {
        return -1;
    }
    if (liveWaitLeader(NULL, 30000, &leader) != 0) {
        fprintf(stderr, "clientlive: the nodes agree on no leader\n");
        return -1;
    }
    return liveLearnIds();
}

int main(int argc, char **argv)
{
    static struct live lv;
    ctx = &lv;
    if (parseArgs(argc, argv, &lv) != 0) {
        fprintf(stderr, "usage: clientlive --server ours|reference --nodes "
                        "A1,A2,A3 --pids P1,P2,P3 [--extra A4 --extra-pid P4] "
                        "--dir DIR\n");
        return 2;
    }
    if (setup() != 0) {
        fprintf(stderr, "clientlive: cannot reach the cluster\n");
        lv.failed++;
    } else {
        liveStoreTests();
        liveSqlTests();
        liveRowsTests();
        liveClusterTests();
        liveApiTests();
        liveFailoverTests();
    }
    liveDriverFree(lv.store, lv.driver);
    printf("[====] client-live (%s): Tested: %u | Passing: %u | Failing: %u\n",
           lv.server, lv.tested, lv.passed, lv.failed);
    return lv.failed == 0 ? 0 : 1;
}
