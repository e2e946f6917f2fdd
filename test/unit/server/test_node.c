/* The node life cycle of dqlite.h as go-dqlite uses it: create without
 * side effects, bind before start, start/stop/destroy, rebinding a freed
 * address at once, the handshake's refusal of unknown versions, and a
 * node serving on a listening socket the embedder hands it. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dqlite.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "server/addr.h"
#include "wire.h"

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
    cr_assert_eq(dqlite_node_set_entry_cache(n, 1000), DQLITE_MISUSE);
    cr_assert_eq(dqlite_node_set_entry_cache(n, 0), 0);
    cr_assert_eq(dqlite_node_set_entry_cache(n, 1 << 20), 0);
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
    cr_assert_eq(dqlite_node_set_read_lease(n, 1), 0);
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
    cr_assert_eq(dqlite_node_set_read_lease(n, 0), DQLITE_MISUSE,
                 "only before start");
    dqlite_node_destroy(n);
}

/* ------------------------------------------------------------ bind fd */

/* A listening socket made by the "embedder": TCP on 127.0.0.1 with a
 * kernel-chosen port, or an abstract Unix name. */
static int listenerTcp(char *address, size_t size)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof sin;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_geq(fd, 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    cr_assert_eq(listen(fd, 8), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    snprintf(address, size, "127.0.0.1:%u", (unsigned)ntohs(sin.sin_port));
    return fd;
}

Test(node, serves_on_a_listening_socket_it_was_given)
{
    char address[64];
    struct wire w;
    dqlite_node *n;
    uint64_t last_id = 0;
    uint64_t changes = 0;
    int fd = listenerTcp(address, sizeof address);
    cr_assert_eq(dqlite_node_create(1, address, dir, &n), 0);
    cr_assert_eq(dqlite_node_set_bind_fd(n, fd), 0, "%s",
                 dqlite_node_errmsg(n));
    cr_assert_str_eq(dqlite_node_get_bind_address(n), address);
    /* Exclusive with a bind address, either way round. */
    cr_assert_eq(dqlite_node_set_bind_address(n, "127.0.0.1:0"), DQLITE_MISUSE);
    cr_assert_eq(dqlite_node_set_bind_fd(n, fd), DQLITE_MISUSE);
    cr_assert_eq(dqlite_node_start(n), 0, "%s", dqlite_node_errmsg(n));
    cr_assert_eq(dqlite_node_set_bind_fd(n, fd), DQLITE_MISUSE);
    wireOpen(&w, address, 1);
    wireOpenDb(&w, "test");
    wireExecSql(&w, "CREATE TABLE t (n INT)", NULL, NULL);
    wireExecSql(&w, "INSERT INTO t VALUES (1), (2)", &last_id, &changes);
    cr_assert_eq(last_id, 2);
    cr_assert_eq(changes, 2);
    wireClose(&w);
    cr_assert_eq(dqlite_node_stop(n), 0);
    dqlite_node_destroy(n);
    /* The node closed the descriptor: the port is free again. */
    int again = socket(AF_INET, SOCK_STREAM, 0);
    struct addr a;
    cr_assert_eq(addrParse(address, &a), 0);
    cr_assert_eq(bind(again, (struct sockaddr *)&a.sa, a.len), 0,
                 "port still held after stop");
    close(again);
}

Test(node, abstract_listening_socket_is_accepted_and_closed_by_destroy)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    const char name[] = "dqlite-test-bind-fd";
    socklen_t len =
        (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
    dqlite_node *n;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    memcpy(sun.sun_path + 1, name, strlen(name));
    cr_assert_eq(bind(fd, (struct sockaddr *)&sun, len), 0);
    cr_assert_eq(listen(fd, 8), 0);
    cr_assert_eq(dqlite_node_create(1, "@dqlite-test-bind-fd", dir, &n), 0);
    cr_assert_eq(dqlite_node_set_bind_fd(n, fd), 0, "%s",
                 dqlite_node_errmsg(n));
    cr_assert_str_eq(dqlite_node_get_bind_address(n), "@dqlite-test-bind-fd");
    dqlite_node_destroy(n); /* never started: the descriptor is closed */
    cr_assert_eq(fcntl(fd, F_GETFD), -1);
}

Test(node, bind_fd_refuses_what_is_not_a_listening_stream_socket)
{
    char address[64];
    dqlite_node *n;
    int pipe_fds[2];
    int udp = socket(AF_INET, SOCK_DGRAM, 0);
    int idle = socket(AF_INET, SOCK_STREAM, 0);
    int path_fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    cr_assert_eq(pipe(pipe_fds), 0);
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s/sock", dir);
    cr_assert_eq(bind(path_fd, (struct sockaddr *)&sun, sizeof sun), 0);
    cr_assert_eq(listen(path_fd, 8), 0);
    cr_assert_eq(dqlite_node_create(1, "127.0.0.1:9001", dir, &n), 0);
    cr_assert_eq(dqlite_node_set_bind_fd(n, -1), DQLITE_MISUSE);
    cr_assert_eq(dqlite_node_set_bind_fd(n, pipe_fds[0]), DQLITE_MISUSE);
    cr_assert_eq(dqlite_node_set_bind_fd(n, udp), DQLITE_MISUSE);
    cr_assert_eq(dqlite_node_set_bind_fd(n, idle), DQLITE_MISUSE);
    cr_assert_eq(dqlite_node_set_bind_fd(n, path_fd), DQLITE_MISUSE);
    cr_assert(strstr(dqlite_node_errmsg(n), "not a listening") != NULL, "%s",
              dqlite_node_errmsg(n));
    cr_assert_null(dqlite_node_get_bind_address(n));
    /* A refused descriptor stays the caller's, open. */
    cr_assert_neq(fcntl(udp, F_GETFD), -1);
    cr_assert_neq(fcntl(path_fd, F_GETFD), -1);
    /* The node can still be given a good one. */
    int fd = listenerTcp(address, sizeof address);
    cr_assert_eq(dqlite_node_set_bind_fd(n, fd), 0, "%s",
                 dqlite_node_errmsg(n));
    dqlite_node_destroy(n);
    close(udp);
    close(idle);
    close(path_fd);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    unlink(sun.sun_path);
}

/* A self-signed certificate and key in the test's directory (openssl CLI). */
static void makeCert(char *crt, char *key, size_t size)
{
    char cmd[1024];
    snprintf(crt, size, "%s/node.crt", dir);
    snprintf(key, size, "%s/node.key", dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
             "-nodes -keyout %s -out %s -days 1 -subj /CN=dqlite "
             "-addext subjectAltName=DNS:dqlite >/dev/null 2>&1",
             key, crt);
    cr_assert_eq(system(cmd), 0, "openssl could not make a certificate");
}

Test(node, tls_options_are_checked)
{
    dqlite_node *n;
    cr_assert_eq(dqlite_node_create(1, "x", dir, &n), 0);
    cr_assert_eq(dqlite_node_reload_tls(n), DQLITE_MISUSE); /* no TLS */
    cr_assert_eq(dqlite_node_set_tls(n, NULL, "k", "c", 0), DQLITE_MISUSE);
    cr_assert_eq(dqlite_node_set_tls(n, "c", "k", "a", 0x100), DQLITE_MISUSE);
    cr_assert_eq(dqlite_node_set_tls_handshake_timeout(n, 0), DQLITE_MISUSE);
    cr_assert_eq(dqlite_node_set_tls(n, "/nonexistent.crt", "/nonexistent.key",
                                     "/nonexistent.crt", 0),
                 DQLITE_ERROR);
    cr_assert(strstr(dqlite_node_errmsg(n),
                     "TLS: cannot load the certificate") != NULL,
              "%s", dqlite_node_errmsg(n));
    cr_assert_eq(dqlite_node_reload_tls(n), DQLITE_MISUSE); /* still none */
    dqlite_node_destroy(n);
}

/* A node with TLS starts and stops; a reload that fails keeps it serving
 * and says why. */
Test(node, tls_start_reload_stop)
{
    char crt[256], key[256];
    dqlite_node *n;
    makeCert(crt, key, sizeof crt);
    cr_assert_eq(dqlite_node_create(1, "@", dir, &n), 0);
    cr_assert_eq(dqlite_node_set_bind_address(n, "@"), 0);
    cr_assert_eq(
        dqlite_node_set_tls(n, crt, key, crt,
                            DQLITE_TLS_ADMIN_AUTH | DQLITE_TLS_ALLOW_TLS12),
        0, "%s", dqlite_node_errmsg(n));
    cr_assert_eq(dqlite_node_set_tls_handshake_timeout(n, 500), 0);
    cr_assert_eq(dqlite_node_start(n), 0, "%s", dqlite_node_errmsg(n));
    cr_assert_eq(dqlite_node_reload_tls(n), 0, "%s", dqlite_node_errmsg(n));
    FILE *f = fopen(key, "w");
    cr_assert_not_null(f);
    fputs("not a key\n", f);
    fclose(f);
    cr_assert_eq(dqlite_node_reload_tls(n), DQLITE_ERROR);
    cr_assert(strstr(dqlite_node_errmsg(n), "TLS: cannot load the key") != NULL,
              "%s", dqlite_node_errmsg(n));
    cr_assert_eq(dqlite_node_stop(n), 0);
    dqlite_node_destroy(n);
}

/* dqlite_node_set_http_auth: refused without a path and after start; a
 * file that cannot be read fails the start with a message naming auth;
 * a good one starts (the permissions themselves: make check-rqlite). */
Test(node, http_auth_is_checked_at_start)
{
    dqlite_node *n;
    char path[96];
    cr_assert_eq(dqlite_node_create(1, "127.0.0.1:0", dir, &n), 0);
    cr_assert_eq(dqlite_node_set_http_auth(n, NULL), DQLITE_MISUSE);
    cr_assert_eq(dqlite_node_set_http_auth(n, ""), DQLITE_MISUSE);
    cr_assert_eq(dqlite_node_set_http_address(n, "127.0.0.1:0"), 0);
    snprintf(path, sizeof path, "%s/missing-auth.json", dir);
    cr_assert_eq(dqlite_node_set_http_auth(n, path), 0);
    cr_assert_eq(dqlite_node_start(n), DQLITE_ERROR);
    cr_assert(strstr(dqlite_node_errmsg(n), "auth") != NULL, "%s",
              dqlite_node_errmsg(n));
    dqlite_node_destroy(n);

    char dir2[64];
    snprintf(dir2, sizeof dir2, "%s/second", dir);
    cr_assert_eq(mkdir(dir2, 0700), 0);
    snprintf(path, sizeof path, "%s/auth.json", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("[{\"username\": \"u\", \"password\": \"p\", \"perms\": "
          "[\"all\"]}]",
          f);
    fclose(f);
    cr_assert_eq(dqlite_node_create(1, "127.0.0.1:0", dir2, &n), 0);
    cr_assert_eq(dqlite_node_set_http_address(n, "127.0.0.1:0"), 0);
    cr_assert_eq(dqlite_node_set_http_auth(n, path), 0);
    cr_assert_eq(dqlite_node_start(n), 0, "%s", dqlite_node_errmsg(n));
    cr_assert_eq(dqlite_node_set_http_auth(n, path), DQLITE_MISUSE);
    cr_assert_eq(dqlite_node_stop(n), 0);
    dqlite_node_destroy(n);
}

/* dqlite_node_set_http_address: the listener runs exactly while the node
 * does, on the real port when 0 was asked; a bad address is refused
 * before start, a busy one fails the start with a message. */
Test(node, http_listener_lives_with_the_node)
{
    dqlite_node *n;
    dqlite_node *other;
    cr_assert_eq(dqlite_node_create(1, "127.0.0.1:0", dir, &n), 0);
    cr_assert_eq(dqlite_node_set_http_address(n, "nonsense"), DQLITE_MISUSE);
    cr_assert_eq(dqlite_node_set_http_address(n, "127.0.0.1:0"), 0);
    cr_assert_null(dqlite_node_get_http_address(n));
    cr_assert_eq(dqlite_node_start(n), 0, "%s", dqlite_node_errmsg(n));
    const char *http = dqlite_node_get_http_address(n);
    cr_assert_not_null(http);
    cr_assert(strncmp(http, "127.0.0.1:", 10) == 0 &&
                  strcmp(http, "127.0.0.1:0") != 0,
              "%s", http);
    cr_assert_eq(dqlite_node_set_http_address(n, "127.0.0.1:0"), DQLITE_MISUSE);

    /* A second node asking for the same HTTP port does not start. */
    char dir2[64];
    snprintf(dir2, sizeof dir2, "%s/second", dir);
    cr_assert_eq(mkdir(dir2, 0700), 0);
    cr_assert_eq(dqlite_node_create(2, "127.0.0.1:0", dir2, &other), 0);
    cr_assert_eq(dqlite_node_set_http_address(other, http), 0);
    cr_assert_eq(dqlite_node_start(other), DQLITE_ERROR);
    cr_assert(strstr(dqlite_node_errmsg(other), "HTTP") != NULL, "%s",
              dqlite_node_errmsg(other));
    dqlite_node_destroy(other);

    cr_assert_eq(dqlite_node_stop(n), 0);
    cr_assert_null(dqlite_node_get_http_address(n));
    dqlite_node_destroy(n);
}
