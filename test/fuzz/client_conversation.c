/*
 * Fuzz target: the client against a server that answers with arbitrary
 * bytes. The input (after a mode byte) is what the "server" sends; it is
 * written in full into a socket pair before the client starts, so the run
 * is deterministic and single-threaded, and ends at EOF. Mode 0 prefixes a
 * valid discovery (SERVER naming the dialled address, WELCOME, DB) and then
 * drives SQL calls, rows and statements over the fuzzed answers; mode 1
 * drives the cluster client's calls. Every call must fail cleanly or
 * succeed; nothing may crash, leak or hang.
 */
#include <dqlite_client.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/buf.h"
#include "proto/response.h"

#define FUZZ_INPUT_MAX 60000
#define FUZZ_ADDRESS "fuzz:1"

static int fuzz_fd = -1;

static int fuzzDial(void *arg, const char *address, int timeout_ms, int *fd)
{
    (void)arg;
    (void)address;
    (void)timeout_ms;
    if (fuzz_fd < 0) {
        return -1;
    }
    *fd = fuzz_fd;
    fuzz_fd = -1;
    return 0;
}

/* SERVER(1, FUZZ_ADDRESS), WELCOME, DB: a leader that lets us in. */
static void fuzzPrefix(struct buf *out)
{
    struct proto_response r;
    protoResponseInit(&r, PROTO_RESP_SERVER);
    r.server.id = 1;
    r.server.address = protoText(FUZZ_ADDRESS);
    protoResponseEncode(&r, NULL, out);
    protoResponseInit(&r, PROTO_RESP_WELCOME);
    protoResponseEncode(&r, NULL, out);
    protoResponseInit(&r, PROTO_RESP_DB);
    protoResponseEncode(&r, NULL, out);
}

static void fuzzRows(struct dqlite_rows *rows)
{
    unsigned n = dqlite_rows_column_count(rows);
    int i;
    for (unsigned c = 0; c < n; c++) {
        (void)dqlite_rows_column_name(rows, c);
        (void)dqlite_rows_column_type_name(rows, c);
    }
    for (i = 0; i < 1000 && dqlite_rows_next(rows) == DQLITE_CLIENT_ROW; i++) {
        for (unsigned c = 0; c < n; c++) {
            struct dqlite_value v;
            int64_t sec;
            int32_t nsec;
            int32_t off;
            size_t len;
            (void)dqlite_rows_value(rows, c, &v);
            (void)dqlite_rows_int64(rows, c);
            (void)dqlite_rows_double(rows, c);
            (void)dqlite_rows_text(rows, c);
            (void)dqlite_rows_blob(rows, c, &len);
            (void)dqlite_rows_time(rows, c, &sec, &nsec, &off);
        }
    }
    dqlite_rows_close(rows);
}

static void fuzzSql(struct dqlite_driver *driver)
{
    struct dqlite_conn *conn;
    struct dqlite_rows *rows;
    struct dqlite_stmt *stmt;
    struct dqlite_result res;
    struct dqlite_value p = {.type = DQLITE_CLIENT_INTEGER, .integer = 1};
    if (dqlite_driver_connect(driver, "db", &conn) == 0) {
        if (dqlite_conn_query(conn, "Q", NULL, 0, &rows) == 0) {
            fuzzRows(rows);
        }
        (void)dqlite_conn_exec(conn, "E", &p, 1, &res);
        if (dqlite_conn_prepare(conn, "P", &stmt) == 0) {
            (void)dqlite_stmt_exec(stmt, &p, 1, &res);
            if (dqlite_stmt_query(stmt, NULL, 0, &rows) == 0) {
                fuzzRows(rows);
            }
            dqlite_stmt_close(stmt);
        }
        if (dqlite_conn_begin(conn, NULL) == 0) {
            (void)dqlite_conn_commit(conn);
        }
    }
    dqlite_conn_close(conn);
}

static void fuzzCluster(struct dqlite_driver *driver)
{
    struct dqlite_client *cl;
    struct dqlite_server_info *servers;
    struct dqlite_file *files;
    unsigned n;
    uint64_t id;
    uint64_t w;
    char *address;
    if (dqlite_client_connect(driver, FUZZ_ADDRESS, &cl) == 0) {
        if (dqlite_client_leader(cl, &id, &address) == 0) {
            dqlite_client_free(address);
        }
        if (dqlite_client_cluster(cl, &servers, &n) == 0) {
            dqlite_server_info_free(servers, n);
        }
        if (dqlite_client_dump(cl, "db", &files, &n) == 0) {
            dqlite_file_free(files, n);
        }
        (void)dqlite_client_describe(cl, &id, &w);
        (void)dqlite_client_add(cl, 2, "a:1", DQLITE_VOTER);
        (void)dqlite_client_transfer(cl, 2);
    }
    dqlite_client_close(cl);
}

static void fuzzRun(int mode)
{
    struct dqlite_driver_options o;
    struct dqlite_server_store *store;
    struct dqlite_driver *driver;
    dqlite_driver_options_init(&o);
    o.dial = fuzzDial;
    o.retry_limit = 1;
    o.backoff_factor_ms = 1;
    o.backoff_cap_ms = 1;
    o.no_store_refresh = true;
    o.call_timeout_ms = 1000;
    if (dqlite_server_store_create(&store) != 0) {
        return;
    }
    dqlite_server_store_add(store, 1, FUZZ_ADDRESS, DQLITE_VOTER);
    if (dqlite_driver_create(store, &o, &driver) == 0) {
        if (mode == 0) {
            fuzzSql(driver);
        } else {
            fuzzCluster(driver);
        }
        dqlite_driver_destroy(driver);
    }
    dqlite_server_store_close(store);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct buf in;
    int sv[2];
    int sndbuf = 1 << 20;
    int mode;
    if (size < 1 || size > FUZZ_INPUT_MAX ||
        socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        return 0;
    }
    mode = data[0] & 1;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    bufInit(&in);
    if (mode == 0) {
        fuzzPrefix(&in);
    }
    bufAppend(&in, data + 1, size - 1);
    if (in.len > 0 && write(sv[1], in.data, in.len) != (ssize_t)in.len) {
        abort(); /* the socket buffer holds any allowed input */
    }
    bufFree(&in);
    shutdown(sv[1], SHUT_WR);
    fuzz_fd = sv[0];
    fuzzRun(mode);
    if (fuzz_fd >= 0) {
        close(fuzz_fd);
        fuzz_fd = -1;
    }
    close(sv[1]);
    return 0;
}
