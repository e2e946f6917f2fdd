/* Encoding of rqlite's responses (docs/http-api.md, "Responses"): row
 * values, column types, per-statement results and errors, built as
 * jansson values and dumped compact or (`pretty`) indented. Values follow
 * what rqlite (Go's encoding/json) writes: integers exact, BLOBs as base64
 * text or (`blob_array`) arrays of byte values, text with invalid UTF-8
 * replaced by U+FFFD, NULL as null. */
#include <openssl/ssl.h> /* EVP_EncodeBlock (openssl/evp.h) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/rqlite_internal.h"
#include "lib/assert.h"

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8Len(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned min;
    unsigned cp;
    if (s[0] < 0x80) {
        return 1;
    } else if ((s[0] & 0xe0) == 0xc0) {
        len = 2, min = 0x80, cp = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3, min = 0x800, cp = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4, min = 0x10000, cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }
    return len;
}

/* A JSON string of `n` bytes that may not be UTF-8. */
static json_t *textJson(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    if (j != NULL) {
        return j; /* valid UTF-8 (the common case) */
    }
    /* Each invalid byte becomes U+FFFD (3 bytes). */
    unsigned char *fixed = malloc(3 * n + 1);
    size_t o = 0;
    if (fixed == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < n;) {
        size_t k = utf8Len((const unsigned char *)s + i, n - i);
        if (k == 0) {
            memcpy(fixed + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
            continue;
        }
        memcpy(fixed + o, s + i, k);
        o += k;
        i += k;
    }
    j = json_stringn((const char *)fixed, o);
    free(fixed);
    return j;
}

static json_t *blobJson(const unsigned char *p, size_t n, bool blob_array)
{
    if (blob_array) {
        json_t *a = json_array();
        for (size_t i = 0; a != NULL && i < n; i++) {
            if (json_array_append_new(a, json_integer(p[i])) != 0) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    if (n > (size_t)0x7ffffff0 / 4 * 3) {
        return NULL;
    }
    unsigned char *b64 = malloc((n + 2) / 3 * 4 + 1);
    if (b64 == NULL) {
        return NULL;
    }
    int len = EVP_EncodeBlock(b64, p, (int)n);
    json_t *j = json_stringn((const char *)b64, (size_t)len);
    free(b64);
    return j;
}

json_t *rqValueJson(const struct dqlite_value *v, bool blob_array)
{
    switch (v->type) {
    case DQLITE_CLIENT_INTEGER:
    case DQLITE_CLIENT_UNIXTIME:
        return json_integer((json_int_t)v->integer);
    case DQLITE_CLIENT_BOOLEAN:
        return json_integer(v->boolean ? 1 : 0);
    case DQLITE_CLIENT_FLOAT:
        return json_real(v->real);
    case DQLITE_CLIENT_TEXT:
    case DQLITE_CLIENT_ISO8601:
        return textJson(v->text.data, v->text.len);
    case DQLITE_CLIENT_BLOB:
        return blobJson(v->blob.data, v->blob.len, blob_array);
    default:
        return json_null();
    }
}

const char *rqTypeName(const char *client_type_name)
{
    static const struct {
        const char *ours;
        const char *rqlite;
    } names[] = {
        {"INTEGER", "integer"}, {"FLOAT", "real"},    {"TEXT", "text"},
        {"BLOB", "blob"},       {"TIME", "datetime"}, {"BOOL", "boolean"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (client_type_name != NULL &&
            strcmp(client_type_name, names[i].ours) == 0) {
            return names[i].rqlite;
        }
    }
    return "";
}

json_t *rqErrorResult(const char *msg)
{
    return json_pack("{s:o}", "error", textJson(msg, strlen(msg)));
}

json_t *rqExecResult(int64_t last_insert_id, int64_t rows_affected,
                     bool timings, double seconds)
{
    /* rqlite leaves zero fields out: a CREATE TABLE answers {}. */
    json_t *o = json_object();
    if (o != NULL && last_insert_id != 0) {
        json_object_set_new(o, "last_insert_id",
                            json_integer((json_int_t)last_insert_id));
    }
    if (o != NULL && rows_affected != 0) {
        json_object_set_new(o, "rows_affected",
                            json_integer((json_int_t)rows_affected));
    }
    if (o != NULL && timings) {
        json_object_set_new(o, "time", json_real(seconds));
    }
    return o;
}

void rqRespondText(struct http_response *res, int status, const char *msg)
{
    httpRespond(res, status, "text/plain; charset=utf-8", msg);
}

void rqRespondJson(struct http_response *res, int status, json_t *root,
                   bool pretty)
{
    if (root == NULL) {
        rqRespondText(res, 500, "out of memory encoding the response");
        return;
    }
    size_t flags = pretty ? JSON_INDENT(4) : JSON_COMPACT;
    char *text = json_dumps(root, flags | JSON_REAL_PRECISION(17));
    json_decref(root);
    if (text == NULL) {
        rqRespondText(res, 500, "out of memory encoding the response");
        return;
    }
    res->status = status;
    res->content_type = "application/json";
    res->body = text; /* jansson's default allocator is malloc */
    res->body_len = strlen(text);
}
