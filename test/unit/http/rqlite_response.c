/* rqlite's response shapes (docs/http-api.md, "Responses"): how values
 * come back (integers exact, BLOBs as base64 or byte arrays, NULL as null,
 * invalid UTF-8 replaced), column type names, exec results with and
 * without timings, errors, compact and pretty JSON. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "http/rqlite_internal.h"

static char *dump(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    cr_assert_not_null(s);
    return s;
}

static void expect(json_t *j, const char *want)
{
    char *s = dump(j);
    cr_assert_str_eq(s, want);
    free(s);
}

Test(rqlite_response, values)
{
    struct dqlite_value v = {.type = DQLITE_CLIENT_INTEGER};
    v.integer = INT64_MIN;
    expect(rqValueJson(&v, false), "-9223372036854775808");
    v.integer = INT64_MAX;
    expect(rqValueJson(&v, false), "9223372036854775807");
    v.type = DQLITE_CLIENT_FLOAT;
    v.real = 2.5;
    expect(rqValueJson(&v, false), "2.5");
    v.type = DQLITE_CLIENT_NULL;
    expect(rqValueJson(&v, false), "null");
    v.type = DQLITE_CLIENT_TEXT;
    v.text.data = "fiona \"f\"";
    v.text.len = strlen(v.text.data);
    expect(rqValueJson(&v, false), "\"fiona \\\"f\\\"\"");
    v.type = DQLITE_CLIENT_BOOLEAN;
    v.boolean = true;
    expect(rqValueJson(&v, false), "1");
}

Test(rqlite_response, blobs)
{
    struct dqlite_value v = {.type = DQLITE_CLIENT_BLOB};
    v.blob.data = "\x00\x01\xfe\xff";
    v.blob.len = 4;
    expect(rqValueJson(&v, false), "\"AAH+/w==\"");
    expect(rqValueJson(&v, true), "[0,1,254,255]");
    v.blob.len = 0;
    expect(rqValueJson(&v, false), "\"\"");
    expect(rqValueJson(&v, true), "[]");
}

Test(rqlite_response, invalid_utf8_replaced)
{
    struct dqlite_value v = {.type = DQLITE_CLIENT_TEXT};
    v.text.data = "a\xff"
                  "b\xc3\xa9\xed\xa0\x80";
    v.text.len = strlen(v.text.data);
    expect(rqValueJson(&v, false),
           "\"a\xef\xbf\xbd"
           "b\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
}

Test(rqlite_response, type_names)
{
    cr_assert_str_eq(rqTypeName("INTEGER"), "integer");
    cr_assert_str_eq(rqTypeName("FLOAT"), "real");
    cr_assert_str_eq(rqTypeName("TEXT"), "text");
    cr_assert_str_eq(rqTypeName("BLOB"), "blob");
    cr_assert_str_eq(rqTypeName("NULL"), "");
    cr_assert_str_eq(rqTypeName(""), "");
    cr_assert_str_eq(rqTypeName(NULL), "");
}

Test(rqlite_response, results)
{
    expect(rqExecResult(1, 1, false, 0.5),
           "{\"last_insert_id\":1,\"rows_affected\":1}");
    /* Zero fields are left out, as rqlite does ({} for a CREATE). */
    expect(rqExecResult(0, 0, false, 0), "{}");
    expect(rqExecResult(7, 0, true, 0.25),
           "{\"last_insert_id\":7,\"time\":0.25}");
    expect(rqErrorResult("near \"nonsense\": syntax error"),
           "{\"error\":\"near \\\"nonsense\\\": syntax error\"}");
}

Test(rqlite_response, respond_compact_and_pretty)
{
    struct http_response res = {0};
    rqRespondJson(&res, 200, json_pack("{s:[]}", "results"), false);
    cr_assert_eq(res.status, 200);
    cr_assert_str_eq(res.content_type, "application/json");
    cr_assert_str_eq(res.body, "{\"results\":[]}");
    cr_assert_eq(res.body_len, strlen(res.body));
    free(res.body);
    memset(&res, 0, sizeof res);
    rqRespondJson(&res, 200, json_pack("{s:[i]}", "results", 1), true);
    cr_assert(strchr(res.body, '\n') != NULL);
    json_t *back = json_loads(res.body, 0, NULL);
    cr_assert_eq(
        json_integer_value(json_array_get(json_object_get(back, "results"), 0)),
        1);
    json_decref(back);
    free(res.body);
}
