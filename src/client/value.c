/*
 * Typed access to the current row's values, with SQLite-like conversions
 * between numbers, and go-dqlite's reading of time values: UNIXTIME is
 * seconds since the epoch, ISO8601 a text in one of go-dqlite's layouts
 * (an empty one is NULL).
 */
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "lib/assert.h"
#include "lib/err.h"

/* The current row's value i, or NULL when there is none. */
static const struct proto_value *valueAt(struct dqlite_rows *rows, unsigned i)
{
    if (rows == NULL || !rows->has_row || i >= rows->n_columns) {
        return NULL;
    }
    return &rows->row[i];
}

DQLITE_API int dqlite_rows_column_type(struct dqlite_rows *rows, unsigned i)
{
    const struct proto_value *v = valueAt(rows, i);
    return v != NULL ? v->type : 0;
}

DQLITE_API int dqlite_rows_value(struct dqlite_rows *rows, unsigned i,
                                 struct dqlite_value *value)
{
    const struct proto_value *v = valueAt(rows, i);
    if (v == NULL || value == NULL) {
        return DQLITE_CLIENT_MISUSE;
    }
    memset(value, 0, sizeof *value);
    value->type = v->type;
    switch (v->type) {
    case PROTO_TEXT:
    case PROTO_ISO8601:
        value->text.data = v->text.data;
        value->text.len = v->text.len;
        break;
    case PROTO_BLOB:
        value->blob.data = v->blob.data;
        value->blob.len = v->blob.len;
        break;
    case PROTO_FLOAT:
        value->real = v->real;
        break;
    case PROTO_BOOLEAN:
        value->boolean = v->boolean;
        break;
    case PROTO_NULL:
        break;
    default:
        value->integer = v->integer;
    }
    return 0;
}

DQLITE_API bool dqlite_rows_is_null(struct dqlite_rows *rows, unsigned i)
{
    const struct proto_value *v = valueAt(rows, i);
    return v == NULL || v->type == PROTO_NULL ||
           (v->type == PROTO_ISO8601 && v->text.len == 0);
}

DQLITE_API int64_t dqlite_rows_int64(struct dqlite_rows *rows, unsigned i)
{
    const struct proto_value *v = valueAt(rows, i);
    if (v == NULL) {
        return 0;
    }
    switch (v->type) {
    case PROTO_INTEGER:
    case PROTO_UNIXTIME:
        return v->integer;
    case PROTO_BOOLEAN:
        return v->boolean ? 1 : 0;
    case PROTO_FLOAT:
        return (int64_t)v->real;
    case PROTO_TEXT:
        return strtoll(v->text.data, NULL, 10);
    default:
        return 0;
    }
}

DQLITE_API double dqlite_rows_double(struct dqlite_rows *rows, unsigned i)
{
    const struct proto_value *v = valueAt(rows, i);
    if (v == NULL) {
        return 0.0;
    }
    switch (v->type) {
    case PROTO_FLOAT:
        return v->real;
    case PROTO_TEXT:
        return strtod(v->text.data, NULL);
    default:
        return (double)dqlite_rows_int64(rows, i);
    }
}

DQLITE_API bool dqlite_rows_bool(struct dqlite_rows *rows, unsigned i)
{
    const struct proto_value *v = valueAt(rows, i);
    if (v != NULL && v->type == PROTO_FLOAT) {
        return v->real != 0.0;
    }
    return dqlite_rows_int64(rows, i) != 0;
}

DQLITE_API const char *dqlite_rows_text(struct dqlite_rows *rows, unsigned i)
{
    const struct proto_value *v = valueAt(rows, i);
    if (v == NULL || (v->type != PROTO_TEXT && v->type != PROTO_ISO8601)) {
        return NULL;
    }
    return v->text.data; /* proto: data[len] is the wire's NUL */
}

DQLITE_API const void *dqlite_rows_blob(struct dqlite_rows *rows, unsigned i,
                                        size_t *len)
{
    const struct proto_value *v = valueAt(rows, i);
    if (v == NULL || v->type != PROTO_BLOB) {
        if (len != NULL) {
            *len = 0;
        }
        return NULL;
    }
    if (len != NULL) {
        *len = v->blob.len;
    }
    return v->blob.data;
}

DQLITE_API int dqlite_rows_time(struct dqlite_rows *rows, unsigned i,
                                int64_t *unix_sec, int32_t *nsec,
                                int32_t *utc_offset_sec)
{
    const struct proto_value *v = valueAt(rows, i);
    int64_t sec = 0;
    int32_t ns = 0;
    int32_t off = 0;
    if (v == NULL || (v->type != PROTO_UNIXTIME && v->type != PROTO_ISO8601)) {
        return DQLITE_CLIENT_MISUSE;
    }
    if (v->type == PROTO_UNIXTIME) {
        sec = v->integer;
    } else if (clientTimeParse(v->text.data, &sec, &ns, &off) != 0) {
        return DQLITE_CLIENT_MISUSE;
    }
    if (unix_sec != NULL) {
        *unix_sec = sec;
    }
    if (nsec != NULL) {
        *nsec = ns;
    }
    if (utc_offset_sec != NULL) {
        *utc_offset_sec = off;
    }
    return 0;
}
