/* The node life cycle of dqlite.h as go-dqlite uses it: create without
 * side effects, bind before start, start/stop/destroy, rebinding a freed
 * address at once, and the handshake's refusal of unknown versions. */
#include <criterion/criterion.h>
#include <dqlite.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/addr.h"

static char dir[] = "/tmp/dqlite-test-node-XXXXXX";

static void setup(void)
{
    cr_assert_not_null(mkdtemp(dir));
}

static int removeEntry(const char *path, const struct stat *st, int flag,
                       struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void teardown(void)
{
    nftw(dir, removeEntry, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(node, .init = setup, .fini = teardown);

Test(node, create_with_missing_dir_fails_with_message)
{
    dqlite_node *n;
    int rv = dqlite_node_create(1, "127.0.0.1:9001", "/nonexistent/x", &n);
    cr_assert_neq(rv, 0);
    cr_assert_not_null(n);
    cr_assert(strstr(dqlite_node_errmsg(n), "/nonexistent/x") != NULL);
    dqlite_node_destroy(n);
}

Test(node, errmsg_and_destroy_accept_null)
{
    cr_assert_str_eq(dqlite_node_errmsg(NULL), "node is NULL");
    dqlite_node_destroy(NULL);
}

Test(node, create_does_not_validate_address)
{
    dqlite_node *n;
    cr_assert_eq(dqlite_node_create(1, "1", dir, &n), 0);
    cr_assert_null(dqlite_node_get_bind_address(n));
    dqlite_node_destroy(n);
}

Test(node, abstract_autobind)
{
    dqlite_node *n;
    cr_assert_eq(dqlite_node_create(1, "@1", dir, &n), 0);
    cr_assert_eq(dqlite_node_set_bind_address(n, "@"), 0);
    const char *bound = dqlite_node_get_bind_address(n);
    cr_assert_eq(bound[0], '@');
    cr_assert_gt(strlen(bound), 1);
    dqlite_node_destroy(n);
}

Test(node, bad_bind_addresses_are_misuse)
{
    dqlite_node *n;
    cr_assert_eq(dqlite_node_create(1, "x", dir, &n), 0);
    cr_assert_eq(dqlite_node_set_bind_address(n, "localhost"), DQLITE_MISUSE);
    cr_assert_eq(dqlite_node_set_bind_address(n, "127.0.0.1"), DQLITE_MISUSE);
    cr_assert_eq(dqlite_node_set_bind_address(n, "127.0.0.1:99999"),
                 DQLITE_MISUSE);
    dqlite_node_destroy(n);
}

/* Host names are resolved for listening, as clients and peers resolve
 * them for dialling. */
Test(node, host_name_bind_address_is_resolved)
{
    dqlite_node *n;
    cr_assert_eq(dqlite_node_create(1, "localhost:0", dir, &n), 0);
    cr_assert_eq(dqlite_node_set_bind_address(n, "localhost:0"), 0, "%s",
                 dqlite_node_errmsg(n));
    const char *bound = dqlite_node_get_bind_address(n);
    cr_assert(strncmp(bound, "127.0.0.1:", 10) == 0 ||
                  strncmp(bound, "[::1]:", 6) == 0,
              "%s", bound);
    cr_assert_str_neq(bound, "127.0.0.1:0");
    dqlite_node_destroy(n);
}

Test(node, option_bounds)
{
    dqlite_node *n;
    cr_assert_eq(dqlite_node_create(1, "x", dir, &n), 0);
    cr_assert_eq(dqlite_node_set_network_latency(n, 1000), DQLITE_MISUSE);
    cr_assert_eq(dqlite_node_set_network_latency(n, 20000000), 0);
    cr_assert_eq(dqlite_node_set_snapshot_params(n, 1024, 1024), 0);
    cr_assert_eq(dqlite_node_set_snapshot_params(n, 2048, 1024), DQLITE_MISUSE);
    cr_assert_eq(dqlite_node_set_snapshot_params(n, 0, 0), DQLITE_MISUSE);
    cr_assert_eq(dqlite_node_set_failure_domain(n, 7), 0);
    dqlite_node_destroy(n);
}

static void startStopOn(const char *address)
{
    dqlite_node *n;
    cr_assert_eq(dqlite_node_create(1, address, dir, &n), 0);
    cr_assert_eq(dqlite_node_set_bind_address(n, address), 0);
    cr_assert_eq(dqlite_node_start(n), 0, "%s", dqlite_node_errmsg(n));
    cr_assert_eq(dqlite_node_set_bind_address(n, address), DQLITE_MISUSE);
    cr_assert_eq(dqlite_node_stop(n), 0);
    dqlite_node_destroy(n);
}

Test(node, restart_on_same_tcp_address_at_once)
{
    for (int i = 0; i < 3; i++) {
        startStopOn("127.0.0.1:19751");
    }
}

Test(node, restart_on_same_abstract_address_at_once)
{
    for (int i = 0; i < 3; i++) {
        startStopOn("@dqlite-test-restart");
    }
}

Test(node, destroy_stops_a_running_node)
{
    dqlite_node *n;
    cr_assert_eq(dqlite_node_create(1, "127.0.0.1:19752", dir, &n), 0);
    cr_assert_eq(dqlite_node_start(n), 0, "%s", dqlite_node_errmsg(n));
    cr_assert_str_eq(dqlite_node_get_bind_address(n), "127.0.0.1:19752");
    dqlite_node_destroy(n);
}

Test(node, unknown_handshake_is_closed_without_reply)
{
    dqlite_node *n;
    int fd;
    cr_assert_eq(dqlite_node_create(1, "127.0.0.1:19753", dir, &n), 0);
    cr_assert_eq(dqlite_node_start(n), 0, "%s", dqlite_node_errmsg(n));
    cr_assert_eq(addrConnect("127.0.0.1:19753", &fd), 0);
    const unsigned char bad[8] = {2, 0, 0, 0, 0, 0, 0, 0};
    cr_assert_eq(write(fd, bad, sizeof bad), 8);
    char reply[8];
    cr_assert_eq(read(fd, reply, sizeof reply), 0, "expected EOF, no bytes");
    close(fd);
    dqlite_node_destroy(n);
}

Test(node, generated_ids_differ)
{
    dqlite_node_id a = dqlite_generate_node_id("127.0.0.1:9000");
    dqlite_node_id b = dqlite_generate_node_id("127.0.0.1:9000");
    cr_assert_neq(a, b);
    cr_assert_gt(a, 1);
    cr_assert_gt(b, 1);
}

static int watched_state;
static dqlite_node_id watched_leader;

static void watch(void *arg, int old_state, int new_state,
                  dqlite_node_id leader)
{
    (void)arg;
    (void)old_state;
    watched_state = new_state;
    watched_leader = leader;
}

static int logged;
static void logLine(void *arg, int level, const char *message)
{
    (void)arg;
    (void)level;
    (void)message;
    logged++;
}

Test(node, watch_and_log_functions_see_leadership)
{
    dqlite_node *n;
    cr_assert_eq(dqlite_node_create(1, "@dqlite-test-watch", dir, &n), 0);
    cr_assert_eq(dqlite_node_set_watch_func(n, watch, NULL), 0);
    cr_assert_eq(dqlite_node_set_log_func(n, logLine, NULL, DQLITE_LOG_DEBUG),
                 0);
    cr_assert_eq(dqlite_node_set_busy_timeout(n, 100), 0);
    cr_assert_eq(dqlite_node_set_linearizable_reads(n, 1), 0);
    cr_assert_eq(dqlite_node_set_snapshot_compression(n, 0), 0);
    cr_assert_eq(dqlite_node_start(n), 0, "%s", dqlite_node_errmsg(n));
    for (int i = 0; i < 200 && watched_state != DQLITE_LEADER; i++) {
        usleep(5000);
    }
    cr_assert_eq(watched_state, DQLITE_LEADER);
    cr_assert_eq(watched_leader, 1);
    cr_assert_gt(logged, 0);
    cr_assert_eq(dqlite_node_set_watch_func(n, NULL, NULL), DQLITE_MISUSE,
                 "only before start");
    dqlite_node_destroy(n);
}
