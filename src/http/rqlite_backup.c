/* rqlite's /db/backup and /db/load (docs/http-api.md, "Backup and
 * load"): a binary backup is the SQLite file the client's
 * dqlite_client_backup() writes (one commit, integrity-checked) into an
 * unlinked temporary file, streamed into the response block by block
 * (any size, bounded memory); a SQL backup is the database written as SQL
 * (schema, then one INSERT per row, as SQLite's .dump), read in one
 * transaction so it is one point in time. A load of a body opening with
 * SQLite's header is one replicated load (dqlite_client_load_stream,
 * docs/restore.md) replacing the database; any other body is a SQL dump
 * run as one execute. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/rqlite_internal.h"
#include "lib/assert.h"

/* A growing text (malloc: it becomes the response body). */
struct text {
    char *p;
    size_t len;
    size_t cap;
    bool failed; /* out of memory or over RQ_RESULT_MAX_BYTES */
};

static void textAppend(struct text *t, const char *s, size_t n)
{
    if (t->failed) {
        return;
    }
    if (t->len + n + 1 > RQ_RESULT_MAX_BYTES) {
        t->failed = true;
        return;
    }
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap == 0 ? 4096 : t->cap;
        while (cap < t->len + n + 1) {
            cap *= 2;
        }
        char *p = realloc(t->p, cap);
        if (p == NULL) {
            t->failed = true;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

static void textPrintf(struct text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void textPrintf(struct text *t, const char *fmt, ...)
{
    char buf[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    ASSERT(n >= 0 && (size_t)n < sizeof buf);
    textAppend(t, buf, (size_t)n);
}

/* `s` quoted with `q` ('\'' for literals, '"' for names), quotes doubled. */
static void textQuoted(struct text *t, const char *s, size_t n, char q)
{
    textAppend(t, &q, 1);
    for (size_t i = 0; i < n; i++) {
        textAppend(t, s + i, 1);
        if (s[i] == q) {
            textAppend(t, &q, 1);
        }
    }
    textAppend(t, &q, 1);
}

static void textReal(struct text *t, double d)
{
    char buf[40];
    if (isnan(d)) {
        textAppend(t, "NULL", 4);
        return;
    }
    if (isinf(d)) {
        textAppend(t, d > 0 ? "1e999" : "-1e999", d > 0 ? 5 : 6);
        return;
    }
    snprintf(buf, sizeof buf, "%.17g", d);
    textAppend(t, buf, strlen(buf));
    if (strpbrk(buf, ".e") == NULL) {
        textAppend(t, ".0", 2); /* stays REAL when read back */
    }
}

static void textValue(struct text *t, const struct dqlite_value *v)
{
    const unsigned char *b = v->blob.data;
    switch (v->type) {
    case DQLITE_CLIENT_INTEGER:
    case DQLITE_CLIENT_UNIXTIME:
        textPrintf(t, "%lld", (long long)v->integer);
        break;
    case DQLITE_CLIENT_BOOLEAN:
        textAppend(t, v->boolean ? "1" : "0", 1);
        break;
    case DQLITE_CLIENT_FLOAT:
        textReal(t, v->real);
        break;
    case DQLITE_CLIENT_TEXT:
    case DQLITE_CLIENT_ISO8601:
        textQuoted(t, v->text.data, v->text.len, '\'');
        break;
    case DQLITE_CLIENT_BLOB:
        textAppend(t, "X'", 2);
        for (size_t i = 0; i < v->blob.len; i++) {
            textPrintf(t, "%02X", b[i]);
        }
        textAppend(t, "'", 1);
        break;
    default:
        textAppend(t, "NULL", 4);
    }
}

/* One INSERT per row of table `name`. */
static int dumpRows(struct dqlite_conn *c, const char *name, struct text *t)
{
    struct text q = {0};
    struct dqlite_rows *rows;
    textAppend(&q, "SELECT * FROM ", 14);
    textQuoted(&q, name, strlen(name), '"');
    if (q.failed) {
        free(q.p);
        return DQLITE_CLIENT_NOMEM;
    }
    int rv = dqlite_conn_query(c, q.p, NULL, 0, &rows);
    free(q.p);
    if (rv != DQLITE_CLIENT_OK) {
        return rv;
    }
    unsigned n = dqlite_rows_column_count(rows);
    while (!t->failed && (rv = dqlite_rows_next(rows)) == DQLITE_CLIENT_ROW) {
        textAppend(t, "INSERT INTO ", 12);
        textQuoted(t, name, strlen(name), '"');
        textAppend(t, " VALUES(", 8);
        for (unsigned i = 0; i < n; i++) {
            struct dqlite_value v;
            dqlite_rows_value(rows, i, &v);
            if (i > 0) {
                textAppend(t, ",", 1);
            }
            textValue(t, &v);
        }
        textAppend(t, ");\n", 3);
    }
    int close_rv = dqlite_rows_close(rows);
    if (t->failed) {
        return DQLITE_CLIENT_NOMEM;
    }
    return rv == DQLITE_CLIENT_DONE ? close_rv : rv;
}

/* The schema's entries: tables (with their rows) first, then indexes,
 * triggers and views, each in creation order. */
static int dumpAll(struct dqlite_conn *c, struct text *t)
{
    static const char *sql =
        "SELECT name, type, sql FROM sqlite_master WHERE sql NOT NULL AND "
        "name NOT LIKE 'sqlite_%' ORDER BY type <> 'table', rowid";
    struct dqlite_rows *rows;
    struct text tables = {0}; /* names, NUL-separated */
    int rv = dqlite_conn_query(c, sql, NULL, 0, &rows);
    if (rv != DQLITE_CLIENT_OK) {
        return rv;
    }
    while (!t->failed && (rv = dqlite_rows_next(rows)) == DQLITE_CLIENT_ROW) {
        const char *name = dqlite_rows_text(rows, 0);
        const char *type = dqlite_rows_text(rows, 1);
        const char *ddl = dqlite_rows_text(rows, 2);
        if (name == NULL || type == NULL || ddl == NULL) {
            continue;
        }
        textAppend(t, ddl, strlen(ddl));
        textAppend(t, ";\n", 2);
        if (strcmp(type, "table") == 0) {
            textAppend(&tables, name, strlen(name) + 1);
        }
    }
    dqlite_rows_close(rows);
    /* Rows after the whole schema was read (one result set at a time). */
    for (size_t o = 0; rv == DQLITE_CLIENT_DONE && o < tables.len;
         o += strlen(tables.p + o) + 1) {
        int r = dumpRows(c, tables.p + o, t);
        rv = r == DQLITE_CLIENT_OK ? DQLITE_CLIENT_DONE : r;
    }
    bool oom = tables.failed || t->failed;
    free(tables.p);
    if (oom) {
        return DQLITE_CLIENT_NOMEM;
    }
    return rv == DQLITE_CLIENT_DONE ? DQLITE_CLIENT_OK : rv;
}

void rqBackupSql(struct rq_pool *p, const char *db, struct http_response *res)
{
    char err[256];
    struct text t = {0};
    struct rq_slot *slot = rqPoolAcquire(p, db, err, sizeof err);
    if (slot == NULL) {
        rqRespondText(res, 503, err);
        return;
    }
    textAppend(&t, "PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n", 44);
    /* One read transaction: the text is one point in time. */
    int rv = dqlite_conn_begin(slot->conn, NULL);
    if (rv == DQLITE_CLIENT_OK) {
        rv = dumpAll(slot->conn, &t);
        if (dqlite_conn_rollback(slot->conn) != DQLITE_CLIENT_OK &&
            rv == DQLITE_CLIENT_OK) {
            rv = DQLITE_CLIENT_IOERR;
        }
    }
    textAppend(&t, "COMMIT;\n", 8);
    if (rv != DQLITE_CLIENT_OK || t.failed) {
        snprintf(err, sizeof err, "backup failed: %s",
                 t.failed ? "larger than the bound or out of memory"
                          : dqlite_conn_errmsg(slot->conn));
        rqPoolRelease(p, slot, rv != DQLITE_CLIENT_ERROR && !t.failed);
        free(t.p);
        rqRespondText(res, t.failed ? 413 : 500, err);
        return;
    }
    rqPoolRelease(p, slot, false);
    res->status = 200;
    res->content_type = "application/sql";
    res->body = t.p;
    res->body_len = t.len;
}

/* The backup's copy, streamed from an unlinked temporary file: the disk
 * holds the database once, memory one block. */
struct file_body {
    int fd;
};

static ssize_t fileBodyRead(void *arg, uint64_t pos, char *buf, size_t max)
{
    struct file_body *f = arg;
    ssize_t n;
    do {
        n = pread(f->fd, buf, max, (off_t)pos);
    } while (n < 0 && errno == EINTR);
    return n;
}

static void fileBodyFree(void *arg)
{
    struct file_body *f = arg;
    close(f->fd);
    free(f);
}

void rqBackupFile(struct rq_pool *p, const char *db, struct http_response *res)
{
    char path[512];
    char err[256];
    struct dqlite_client *cl = NULL;
    const char *dir = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/dqlite-rqlite-backup-XXXXXX",
             dir != NULL && dir[0] != '\0' ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) {
        rqRespondText(res, 500, "backup: cannot create a temporary file");
        return;
    }
    close(fd);
    /* Asked of the leader: every acknowledged write is in the copy. */
    int rv = dqlite_client_connect_leader(p->driver, &cl);
    if (rv == DQLITE_CLIENT_OK) {
        rv = dqlite_client_backup(cl, db, path);
    }
    if (rv != DQLITE_CLIENT_OK) {
        snprintf(err, sizeof err, "backup failed: %s",
                 cl != NULL ? dqlite_client_errmsg(cl) : "no leader");
        dqlite_client_close(cl);
        unlink(path);
        rqRespondText(res, rv == DQLITE_CLIENT_NOLEADER ? 503 : 500, err);
        return;
    }
    dqlite_client_close(cl);
    struct file_body *f = malloc(sizeof *f);
    struct stat st;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    unlink(path); /* the open descriptor keeps the copy until it is sent */
    if (f == NULL || fd < 0 || fstat(fd, &st) != 0 || st.st_size <= 0) {
        free(f);
        if (fd >= 0) {
            close(fd);
        }
        rqRespondText(res, 500, "backup: cannot read the copy back");
        return;
    }
    f->fd = fd;
    res->status = 200;
    res->content_type = "application/octet-stream";
    res->reader = fileBodyRead;
    res->reader_free = fileBodyFree;
    res->reader_arg = f;
    res->reader_size = (uint64_t)st.st_size;
}

/* The body handed to dqlite_client_load_stream() piece by piece: from
 * memory, or (a spooled body, fd >= 0) from the listener's file. */
struct body_reader {
    const char *data;
    int fd;
    size_t len;
    size_t pos;
};

static int bodyRead(void *arg, void *buf, size_t len)
{
    struct body_reader *r = arg;
    if (len > r->len - r->pos) {
        return 1; /* the client asked past the size it was given */
    }
    if (r->fd < 0) {
        memcpy(buf, r->data + r->pos, len);
        r->pos += len;
        return 0;
    }
    while (len > 0) {
        ssize_t n = pread(r->fd, buf, len, (off_t)r->pos);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return 1;
        }
        buf = (char *)buf + n;
        len -= (size_t)n;
        r->pos += (size_t)n;
    }
    return 0;
}

/* HTTP status of a refused load: the input's fault (not SQLite, fails the
 * integrity check) is 400, a leader change 503, anything else 500. */
static int loadStatus(int rv, const char *msg)
{
    if (rv == DQLITE_CLIENT_NOLEADER || rv == DQLITE_CLIENT_NOTLEADER ||
        strstr(msg, "leadership lost") != NULL ||
        strstr(msg, "abandoned") != NULL) {
        return 503;
    }
    if (strstr(msg, "not a SQLite database") != NULL ||
        strstr(msg, "integrity_check") != NULL) {
        return 400;
    }
    return 500;
}

/* A SQLite file: replaces database `db` in one replicated load
 * (docs/restore.md), as rqlite's load replaces its database. */
static void loadFile(struct rq_pool *p, const char *db,
                     struct body_reader reader, struct http_response *res)
{
    char err[300];
    struct dqlite_client *cl = NULL;
    uint64_t len = reader.len;
    int rv = dqlite_client_connect_leader(p->driver, &cl);
    if (rv == DQLITE_CLIENT_OK) {
        rv = dqlite_client_load_stream(cl, db, len, bodyRead, &reader,
                                       DQLITE_LOAD_FORCE, NULL, NULL);
    }
    if (rv != DQLITE_CLIENT_OK) {
        const char *msg = cl != NULL ? dqlite_client_errmsg(cl) : "no leader";
        snprintf(err, sizeof err, "load failed: %s", msg);
        int status = cl != NULL ? loadStatus(rv, msg) : 503;
        dqlite_client_close(cl);
        rqRespondText(res, status, err);
        return;
    }
    dqlite_client_close(cl);
    rqRespondJson(res, 200, json_pack("{s:[]}", "results"), false);
}

void rqLoad(struct rq_pool *p, const char *db, const struct http_request *req,
            struct http_response *res)
{
    static const char sqlite_magic[] = "SQLite format 3";
    char head[sizeof sqlite_magic] = {0};
    struct body_reader reader = {
        req->body, req->body_spooled ? req->body_fd : -1, req->body_len, 0};
    if (reader.fd < 0) {
        memcpy(head, req->body,
               req->body_len < sizeof head ? req->body_len : sizeof head);
    } else if (pread(reader.fd, head, sizeof head, 0) < 0) {
        rqRespondText(res, 500, "load: cannot read the request body");
        return;
    }
    if (req->body_len >= sizeof head &&
        memcmp(head, sqlite_magic, sizeof sqlite_magic) == 0) {
        loadFile(p, db, reader, res); /* streamed: one chunk in memory */
        return;
    }
    if (reader.fd < 0) {
        rqLoadSql(p, db, req->body, res);
        return;
    }
    /* A SQL dump runs as one text: held in memory, so bounded. */
    if (req->body_len > RQ_BODY_MAX) {
        rqRespondText(res, 413,
                      "a SQL dump is limited to 16 MiB (a SQLite file is not)");
        return;
    }
    char *sql = malloc(req->body_len + 1);
    if (sql == NULL || bodyRead(&reader, sql, req->body_len) != 0) {
        free(sql);
        rqRespondText(res, 500, "load: cannot read the request body");
        return;
    }
    sql[req->body_len] = '\0';
    rqLoadSql(p, db, sql, res);
    free(sql);
}

void rqLoadSql(struct rq_pool *p, const char *db, const char *sql,
               struct http_response *res)
{
    char err[256];
    struct rq_slot *slot = rqPoolAcquire(p, db, err, sizeof err);
    if (slot == NULL) {
        rqRespondText(res, 503, err);
        return;
    }
    /* The dump's own BEGIN ... COMMIT makes it one transaction. */
    int rv = dqlite_conn_exec(slot->conn, sql, NULL, 0, NULL);
    json_t *one = rv == DQLITE_CLIENT_OK
                      ? json_object()
                      : rqErrorResult(dqlite_conn_errmsg(slot->conn));
    /* A dump that failed half-way may leave its transaction open on the
     * node's side of the connection: closing it rolls that back. */
    rqPoolRelease(p, slot, rv != DQLITE_CLIENT_OK);
    rqRespondJson(res, 200, json_pack("{s:[o]}", "results", one), false);
}
