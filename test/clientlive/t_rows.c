/*
 * The client-live tests of result sets: every value type through
 * dqlite_rows_value and the typed accessors, column names and database type
 * names, 100k rows streamed over many batches, and closing a result set
 * early (INTERRUPT, then the connection is usable again).
 */
#include <stdio.h>
#include <string.h>

#include "live.h"

#define DB "live.db"

static const char *const column_names[] = {"i",  "f",   "t",  "b", "n",
                                           "bo", "iso", "ut", "dn"};
static const int column_types[] = {
    DQLITE_CLIENT_INTEGER, DQLITE_CLIENT_FLOAT,   DQLITE_CLIENT_TEXT,
    DQLITE_CLIENT_BLOB,    DQLITE_CLIENT_NULL,    DQLITE_CLIENT_BOOLEAN,
    DQLITE_CLIENT_ISO8601, DQLITE_CLIENT_UNIXTIME};
static const char *const type_names[] = {"INTEGER", "FLOAT", "TEXT", "BLOB",
                                         "NULL",    "BOOL",  "TIME", "TIME"};
#define N_COLUMNS 9
#define TEXT_VALUE "h\xc3\xa9llo w\xc3\xb6rld"
#define ISO_VALUE "2024-02-29 12:34:56.789+02:00"
#define ISO_UNIX 1709202896 /* 2024-02-29T10:34:56Z */
#define UNIX_VALUE 1700000000

static unsigned char blob_value[300];

static void typesParams(struct dqlite_value *p)
{
    unsigned i;
    for (i = 0; i < sizeof blob_value; i++) {
        blob_value[i] = (unsigned char)(i * 7);
    }
    memset(p, 0, N_COLUMNS * sizeof *p);
    p[0].type = DQLITE_CLIENT_INTEGER;
    p[0].integer = -1234567890123;
    p[1].type = DQLITE_CLIENT_FLOAT;
    p[1].real = 3.25;
    p[2].type = DQLITE_CLIENT_TEXT;
    p[2].text.data = TEXT_VALUE;
    p[2].text.len = strlen(TEXT_VALUE);
    p[3].type = DQLITE_CLIENT_BLOB;
    p[3].blob.data = blob_value;
    p[3].blob.len = sizeof blob_value;
    p[4].type = DQLITE_CLIENT_NULL;
    p[5].type = DQLITE_CLIENT_BOOLEAN;
    p[5].boolean = true;
    p[6].type = DQLITE_CLIENT_ISO8601;
    p[6].text.data = ISO_VALUE;
    p[6].text.len = strlen(ISO_VALUE);
    p[7].type = DQLITE_CLIENT_INTEGER;
    p[7].integer = UNIX_VALUE;
    p[8].type = DQLITE_CLIENT_NULL;
}

/* Names, type codes and type names (before the first row: taken from it). */
static void checkColumns(struct dqlite_rows *rows)
{
    unsigned i;
    CHECK(dqlite_rows_column_count(rows) == N_COLUMNS, "%u columns",
          dqlite_rows_column_count(rows));
    for (i = 0; i < N_COLUMNS; i++) {
        CHECK(strcmp(dqlite_rows_column_name(rows, i), column_names[i]) == 0,
              "column %u is named %s", i, dqlite_rows_column_name(rows, i));
    }
    for (i = 0; i < 8; i++) {
        CHECK(strcmp(dqlite_rows_column_type_name(rows, i), type_names[i]) == 0,
              "column %s: type name %s (want %s)", column_names[i],
              dqlite_rows_column_type_name(rows, i), type_names[i]);
    }
out:
    return;
}

static void checkScalars(struct dqlite_rows *rows)
{
    struct dqlite_value v;
    unsigned i;
    for (i = 0; i < 8; i++) {
        CHECK(dqlite_rows_column_type(rows, i) == column_types[i],
              "column %s: type %d (want %d)", column_names[i],
              dqlite_rows_column_type(rows, i), column_types[i]);
        CHECK(dqlite_rows_value(rows, i, &v) == 0 && v.type == column_types[i],
              "column %s: value type %d", column_names[i], v.type);
    }
    CHECK(dqlite_rows_int64(rows, 0) == -1234567890123 &&
              dqlite_rows_double(rows, 0) == -1234567890123.0,
          "integer %lld", (long long)dqlite_rows_int64(rows, 0));
    CHECK(dqlite_rows_double(rows, 1) == 3.25 &&
              dqlite_rows_int64(rows, 1) == 3,
          "float %g", dqlite_rows_double(rows, 1));
    CHECK(dqlite_rows_text(rows, 2) != NULL &&
              strcmp(dqlite_rows_text(rows, 2), TEXT_VALUE) == 0,
          "text %s", dqlite_rows_text(rows, 2));
    CHECK(dqlite_rows_value(rows, 2, &v) == 0 &&
              v.text.len == strlen(TEXT_VALUE),
          "text length %zu", v.text.len);
    CHECK(dqlite_rows_is_null(rows, 4) && dqlite_rows_int64(rows, 4) == 0 &&
              dqlite_rows_text(rows, 4) == NULL &&
              !dqlite_rows_is_null(rows, 0),
          "null column");
    CHECK(dqlite_rows_bool(rows, 5) && dqlite_rows_int64(rows, 5) == 1,
          "boolean");
out:
    return;
}

static void checkBlobAndTimes(struct dqlite_rows *rows)
{
    size_t len = 0;
    const void *blob = dqlite_rows_blob(rows, 3, &len);
    int64_t sec = 0;
    int32_t nsec = 0;
    int32_t offset = 0;
    int type;
    CHECK(blob != NULL && len == sizeof blob_value &&
              memcmp(blob, blob_value, len) == 0,
          "blob of %zu bytes differs", len);
    CHECK(dqlite_rows_blob(rows, 2, &len) == NULL && len == 0,
          "blob accessor on text");
    CHECK(dqlite_rows_time(rows, 6, &sec, &nsec, &offset) == 0,
          "ISO8601 not parsed: %s", dqlite_rows_text(rows, 6));
    CHECK(sec == ISO_UNIX && nsec == 789000000 && offset == 7200,
          "ISO8601: %lld s %d ns offset %d", (long long)sec, nsec, offset);
    CHECK(dqlite_rows_time(rows, 7, &sec, &nsec, &offset) == 0 &&
              sec == UNIX_VALUE && nsec == 0 && offset == 0,
          "UNIXTIME: %lld s", (long long)sec);
    CHECK(dqlite_rows_time(rows, 0, &sec, &nsec, &offset) ==
              DQLITE_CLIENT_MISUSE,
          "time of an INTEGER column");
    /* A NULL in a DATETIME column reads as NULL whatever its wire type. */
    type = dqlite_rows_column_type(rows, 8);
    CHECK(dqlite_rows_is_null(rows, 8) &&
              (type == DQLITE_CLIENT_NULL || type == DQLITE_CLIENT_ISO8601),
          "NULL DATETIME: type %d", type);
out:
    return;
}

static void testValueTypes(void)
{
    struct dqlite_conn *conn = NULL;
    struct dqlite_rows *rows = NULL;
    struct dqlite_value p[N_COLUMNS];
    typesParams(p);
    CHECK_RC(conn, dqlite_driver_connect(ctx->driver, DB, &conn), 0);
    CHECK_RC(conn,
             liveExec(conn,
                      "DROP TABLE IF EXISTS ty; CREATE TABLE ty (i "
                      "INTEGER, f FLOAT, t TEXT, b BLOB, n TEXT, bo "
                      "BOOLEAN, iso DATETIME, ut TIMESTAMP, dn DATETIME)"),
             0);
    CHECK_RC(conn,
             dqlite_conn_exec(
                 conn, "INSERT INTO ty VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", p,
                 N_COLUMNS, NULL),
             0);
    CHECK_RC(conn, dqlite_conn_query(conn, "SELECT * FROM ty", NULL, 0, &rows),
             0);
    checkColumns(rows);
    CHECK(ctx->reason[0] == '\0', "columns");
    CHECK_RC(conn, dqlite_rows_next(rows), DQLITE_CLIENT_ROW);
    checkScalars(rows);
    checkBlobAndTimes(rows);
    CHECK(ctx->reason[0] == '\0', "values");
    CHECK_RC(conn, dqlite_rows_next(rows), DQLITE_CLIENT_DONE);
    CHECK(strcmp(dqlite_rows_column_type_name(rows, 5), "BOOL") == 0,
          "type name not kept after the last row");
out:
    dqlite_rows_close(rows);
    dqlite_conn_close(conn);
}

/* 64-bit extremes, and the numeric conversions of the accessors. */
static void testConversions(void)
{
    struct dqlite_conn *conn = NULL;
    struct dqlite_rows *rows = NULL;
    struct dqlite_value p[2] = {{.type = DQLITE_CLIENT_INTEGER},
                                {.type = DQLITE_CLIENT_INTEGER}};
    p[0].integer = INT64_MAX;
    p[1].integer = INT64_MIN;
    CHECK_RC(conn, dqlite_driver_connect(ctx->driver, DB, &conn), 0);
    CHECK_RC(
        conn,
        dqlite_conn_query(conn, "SELECT ?, ?, '123', 2.75, 0", p, 2, &rows), 0);
    CHECK_RC(conn, dqlite_rows_next(rows), DQLITE_CLIENT_ROW);
    CHECK(dqlite_rows_int64(rows, 0) == INT64_MAX &&
              dqlite_rows_int64(rows, 1) == INT64_MIN,
          "extremes %lld %lld", (long long)dqlite_rows_int64(rows, 0),
          (long long)dqlite_rows_int64(rows, 1));
    CHECK(dqlite_rows_int64(rows, 2) == 123 &&
              dqlite_rows_double(rows, 2) == 123.0,
          "text '123' as numbers");
    CHECK(dqlite_rows_int64(rows, 3) == 2 && dqlite_rows_bool(rows, 3) &&
              !dqlite_rows_bool(rows, 4),
          "float 2.75 as integer/bool, 0 as bool");
out:
    dqlite_rows_close(rows);
    dqlite_conn_close(conn);
}

void liveRowsTests(void)
{
    liveRun("rows.value-types", testValueTypes);
    liveRun("rows.conversions", testConversions);
    liveStreamTests();
    liveRelayTests();
}
