/*
 * Helpers of the proto tests (see vectors.h). The padding mask is computed
 * from the decoded views (which point into the body), independently of the
 * encoder, so that a re-encoding may differ from the captured bytes only
 * where the sender left padding dirty.
 */
#include "vectors.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "lib/byte.h"

static int hexDigit(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

bool vecHex(const char *hex, struct buf *out)
{
    int hi = -1;
    for (const char *p = hex; *p != '\0'; p++) {
        if (isspace((unsigned char)*p)) {
            continue;
        }
        int d = hexDigit(*p);
        if (d < 0) {
            return false;
        }
        if (hi < 0) {
            hi = d;
            continue;
        }
        uint8_t byte = (uint8_t)(hi << 4 | d);
        if (bufAppend(out, &byte, 1) != 0) {
            return false;
        }
        hi = -1;
    }
    return hi < 0;
}

struct mask {
    const uint8_t *body;
    size_t len;
    bool *bits;
};

static void maskRange(struct mask *m, const uint8_t *from, size_t n)
{
    if (n == 0) {
        return;
    }
    size_t at = (size_t)(from - m->body);
    if (from < m->body || at > m->len || n > m->len - at) {
        abort(); /* a view outside the body: a decoder bug */
    }
    memset(m->bits + at, 1, n);
}

static void maskText(struct mask *m, struct proto_text t)
{
    const uint8_t *p = (const uint8_t *)t.data;
    maskRange(m, p + t.len + 1, (size_t)bytePad8(t.len + 1) - t.len - 1);
}

static void maskValue(struct mask *m, const struct proto_value *v)
{
    if (v->type == PROTO_TEXT || v->type == PROTO_ISO8601) {
        maskText(m, v->text);
    } else if (v->type == PROTO_BLOB && v->blob.len > 0) {
        maskRange(m, v->blob.data + v->blob.len,
                  (size_t)bytePad8(v->blob.len) - v->blob.len);
    }
}

static void maskParams(struct mask *m, const struct proto_params *p)
{
    struct proto_params_iter it;
    struct proto_value v;
    if (p->count > 0) {
        maskRange(m, p->types + p->count,
                  (size_t)(p->data.data - p->types) - p->count);
    }
    protoParamsIterInit(&it, p);
    while (protoParamsIterNext(&it, &v)) {
        maskValue(m, &v);
    }
}

void vecMaskRequest(const struct proto_request *r, const uint8_t *body,
                    size_t len, bool *mask)
{
    struct mask m = {body, len, mask};
    switch (r->type) {
    case PROTO_REQ_OPEN:
        maskText(&m, r->open.name);
        maskText(&m, r->open.vfs);
        break;
    case PROTO_REQ_PREPARE:
        maskText(&m, r->prepare.sql);
        break;
    case PROTO_REQ_EXEC:
    case PROTO_REQ_QUERY:
        maskParams(&m, &r->exec.params);
        break;
    case PROTO_REQ_EXEC_SQL:
    case PROTO_REQ_QUERY_SQL:
        maskText(&m, r->exec_sql.sql);
        maskParams(&m, &r->exec_sql.params);
        break;
    case PROTO_REQ_CONNECT:
    case PROTO_REQ_ADD:
        maskText(&m, r->add.address);
        break;
    case PROTO_REQ_DUMP:
        maskText(&m, r->dump.name);
        break;
    default:
        break;
    }
}

static void maskRows(struct mask *m, const struct proto_rows *rows)
{
    size_t n = (size_t)rows->n_columns;
    struct proto_text *names = calloc(n + 1, sizeof *names);
    struct proto_value *row = calloc(n + 1, sizeof *row);
    struct proto_rows_iter it;
    protoRowsNames(rows, names);
    for (size_t i = 0; i < n; i++) {
        maskText(m, names[i]);
    }
    protoRowsIterInit(&it, rows);
    while (protoRowsIterNext(&it, row)) {
        for (size_t i = 0; i < n; i++) {
            maskValue(m, &row[i]);
        }
    }
    free(names);
    free(row);
}

void vecMaskResponse(const struct proto_response *r, const uint8_t *body,
                     size_t len, bool *mask)
{
    struct mask m = {body, len, mask};
    struct proto_servers_iter si;
    struct proto_files_iter fi;
    struct proto_node node;
    struct proto_file file;
    switch (r->type) {
    case PROTO_RESP_FAILURE:
        maskText(&m, r->failure.message);
        break;
    case PROTO_RESP_SERVER:
        maskText(&m, r->server.address);
        break;
    case PROTO_RESP_SERVERS:
        protoServersIterInit(&si, &r->servers);
        while (protoServersIterNext(&si, &node)) {
            maskText(&m, node.address);
        }
        break;
    case PROTO_RESP_ROWS:
        maskRows(&m, &r->rows);
        break;
    case PROTO_RESP_FILES:
        protoFilesIterInit(&fi, &r->files);
        while (protoFilesIterNext(&fi, &file)) {
            maskText(&m, file.name);
        }
        break;
    default:
        break;
    }
}

void vecMessage(const char *hex, struct proto_header *h, struct buf *body)
{
    struct buf all;
    bufInit(&all);
    if (!vecHex(hex, &all) || all.len < PROTO_HEADER_SIZE) {
        abort();
    }
    protoHeaderGet(all.data, h);
    if ((size_t)h->words * 8 != all.len - PROTO_HEADER_SIZE) {
        abort();
    }
    bufReset(body);
    if (bufAppend(body, all.data + PROTO_HEADER_SIZE,
                  all.len - PROTO_HEADER_SIZE) != 0) {
        abort();
    }
    bufFree(&all);
}

int vecDecodeRequest(const char *hex, struct proto_request *r, struct buf *keep)
{
    struct proto_header h;
    bufInit(keep);
    vecMessage(hex, &h, keep);
    return protoRequestDecode(&h, keep->data, keep->len, r);
}

int vecDecodeResponse(const char *hex, const struct proto_expect *expect,
                      struct proto_response *r, struct buf *keep)
{
    struct proto_header h;
    bufInit(keep);
    vecMessage(hex, &h, keep);
    return protoResponseDecode(&h, keep->data, keep->len, expect, r);
}

const char *vecToHex(const uint8_t *p, size_t len)
{
    static char text[8192];
    static const char digits[] = "0123456789abcdef";
    size_t n = len < (sizeof text - 1) / 2 ? len : (sizeof text - 1) / 2;
    for (size_t i = 0; i < n; i++) {
        text[2 * i] = digits[p[i] >> 4];
        text[2 * i + 1] = digits[p[i] & 0xf];
    }
    text[2 * n] = '\0';
    return text;
}
