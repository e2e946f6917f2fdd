/*
 * Row values as go-dqlite's shell prints them. Its tabular output is Go's
 * %v of the value the driver scanned: integers in decimal, floats in Go's
 * shortest %g form (1e+06), text as is, blobs as "[1 2 255]", NULL as
 * "<nil>", booleans as true/false, times as time.Time's String(). JSON
 * values follow encoding/json: floats as its 'f'/'e' choice, blobs in
 * base64, times in RFC 3339, strings with <, > and & escaped.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shell.h"

/* The shortest decimal digits that read back as `v` (finite, non-zero):
 * digits without a point in `digits`, and the exponent of the first one. */
static void shortestDigits(double v, char *digits, int *exp10)
{
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, fabs(v));
        if (strtod(buf, NULL) == fabs(v)) {
            break;
        }
    }
    char *e = strchr(buf, 'e');
    *exp10 = atoi(e + 1);
    int n = 0;
    for (char *p = buf; p < e; p++) {
        if (*p != '.') {
            digits[n++] = *p;
        }
    }
    while (n > 1 && digits[n - 1] == '0') {
        n--;
    }
    digits[n] = '\0';
}

/* Scientific form: d.ddde+XX (Go: at least two exponent digits). */
static void printExp(FILE *out, const char *digits, int exp10, bool json)
{
    fputc(digits[0], out);
    if (digits[1] != '\0') {
        fprintf(out, ".%s", digits + 1);
    }
    int width = json ? 1 : 2;
    fprintf(out, "e%c%0*d", exp10 < 0 ? '-' : '+', width, abs(exp10));
}

/* Positional form: the digits placed around the decimal point. */
static void printFixed(FILE *out, const char *digits, int exp10)
{
    int n = (int)strlen(digits);
    if (exp10 < 0) {
        fputs("0.", out);
        for (int i = -1; i > exp10; i--) {
            fputc('0', out);
        }
        fputs(digits, out);
        return;
    }
    for (int i = 0; i <= exp10 || i < n; i++) {
        if (i == exp10 + 1) {
            fputc('.', out);
        }
        fputc(i < n ? digits[i] : '0', out);
    }
}

/* Go's %v (json = false) or encoding/json (json = true) of a float64. */
static void printFloat(FILE *out, double v, bool json)
{
    char digits[40];
    int exp10;
    if (isinf(v) || isnan(v)) {
        fputs(json ? "null" : isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf", out);
        return;
    }
    if (v == 0) {
        fputs(signbit(v) && !json ? "-0" : "0", out);
        return;
    }
    shortestDigits(v, digits, &exp10);
    if (v < 0) {
        fputc('-', out);
    }
    /* %v switches at exponents -4 and 6 (shortest %g), JSON at 1e-6 and
     * 1e21. */
    bool exp_form =
        json ? (fabs(v) < 1e-6 || fabs(v) >= 1e21) : (exp10 < -4 || exp10 >= 6);
    if (exp_form) {
        printExp(out, digits, exp10, json);
    } else {
        printFixed(out, digits, exp10);
    }
}

/* A time as Go's time.Time String() ("2006-01-02 15:04:05.999999999 -0700
 * MST") or, for JSON, RFC 3339 with nanoseconds. `zone` is the
 * abbreviation, NULL for a fixed offset (Go then prints the offset). */
static void printTime(FILE *out, int64_t sec, int32_t nsec, int32_t offset,
                      const char *zone, bool json)
{
    struct tm tm;
    char date[64];
    char frac[16] = "";
    time_t local = (time_t)(sec + offset);
    gmtime_r(&local, &tm);
    strftime(date, sizeof date,
             json ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tm);
    if (nsec != 0) {
        int len = snprintf(frac, sizeof frac, ".%09" PRId32, nsec);
        while (frac[len - 1] == '0') {
            frac[--len] = '\0';
        }
    }
    int a = abs(offset);
    if (json) {
        if (offset == 0) {
            fprintf(out, "\"%s%sZ\"", date, frac);
        } else {
            fprintf(out, "\"%s%s%c%02d:%02d\"", date, frac,
                    offset < 0 ? '-' : '+', a / 3600, a / 60 % 60);
        }
        return;
    }
    fprintf(out, "%s%s %c%02d%02d ", date, frac, offset < 0 ? '-' : '+',
            a / 3600, a / 60 % 60);
    if (zone != NULL) {
        fputs(zone, out);
    } else {
        fprintf(out, "%c%02d%02d", offset < 0 ? '-' : '+', a / 3600,
                a / 60 % 60);
    }
}

/* A time value of the current row: UNIXTIME in the local zone (Go's
 * time.Unix), ISO8601 in the offset it carries, UTC when none. Returns -1
 * if the text does not parse. */
static int printRowTime(FILE *out, struct dqlite_rows *rows, unsigned i,
                        bool json)
{
    int64_t sec;
    int32_t nsec, offset;
    if (dqlite_rows_time(rows, i, &sec, &nsec, &offset) != 0) {
        return -1;
    }
    if (dqlite_rows_column_type(rows, i) == DQLITE_CLIENT_UNIXTIME) {
        struct tm tm;
        time_t t = (time_t)sec;
        localtime_r(&t, &tm);
        printTime(out, sec, nsec, (int32_t)tm.tm_gmtoff, tm.tm_zone, json);
        return 0;
    }
    printTime(out, sec, nsec, offset, offset == 0 ? "UTC" : NULL, json);
    return 0;
}

static void printBlobTabular(FILE *out, const unsigned char *p, size_t len)
{
    fputc('[', out);
    for (size_t k = 0; k < len; k++) {
        fprintf(out, k == 0 ? "%u" : " %u", p[k]);
    }
    fputc(']', out);
}

static void printBase64(FILE *out, const unsigned char *p, size_t len)
{
    static const char abc[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    fputc('"', out);
    for (size_t k = 0; k < len; k += 3) {
        uint32_t v = (uint32_t)p[k] << 16;
        v |= k + 1 < len ? (uint32_t)p[k + 1] << 8 : 0;
        v |= k + 2 < len ? p[k + 2] : 0;
        fputc(abc[v >> 18 & 63], out);
        fputc(abc[v >> 12 & 63], out);
        fputc(k + 1 < len ? abc[v >> 6 & 63] : '=', out);
        fputc(k + 2 < len ? abc[v & 63] : '=', out);
    }
    fputc('"', out);
}

void formatJsonString(FILE *out, const char *s, size_t len)
{
    fputc('"', out);
    for (size_t k = 0; k < len; k++) {
        unsigned char c = (unsigned char)s[k];
        if (c == '"' || c == '\\') {
            fprintf(out, "\\%c", c);
        } else if (c == '\n' || c == '\r' || c == '\t') {
            fprintf(out, "\\%c", c == '\n' ? 'n' : c == '\r' ? 'r' : 't');
        } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            fprintf(out, "\\u%04x", c);
        } else if (c == 0xe2 && k + 2 < len &&
                   (unsigned char)s[k + 1] == 0x80 &&
                   ((unsigned char)s[k + 2] & 0xfe) == 0xa8) {
            fprintf(out, "\\u202%c", s[k + 2] == (char)0xa8 ? '8' : '9');
            k += 2;
        } else {
            fputc(c, out);
        }
    }
    fputc('"', out);
}

void formatTabularValue(FILE *out, struct dqlite_rows *rows, unsigned i)
{
    size_t len;
    const void *blob;
    switch (dqlite_rows_column_type(rows, i)) {
    case DQLITE_CLIENT_INTEGER:
        fprintf(out, "%" PRId64, dqlite_rows_int64(rows, i));
        break;
    case DQLITE_CLIENT_FLOAT:
        printFloat(out, dqlite_rows_double(rows, i), false);
        break;
    case DQLITE_CLIENT_BLOB:
        blob = dqlite_rows_blob(rows, i, &len);
        printBlobTabular(out, blob, len);
        break;
    case DQLITE_CLIENT_BOOLEAN:
        fputs(dqlite_rows_bool(rows, i) ? "true" : "false", out);
        break;
    case DQLITE_CLIENT_UNIXTIME:
    case DQLITE_CLIENT_ISO8601:
        if (dqlite_rows_is_null(rows, i)) {
            fputs("<nil>", out);
        } else if (printRowTime(out, rows, i, false) != 0) {
            fputs(dqlite_rows_text(rows, i), out);
        }
        break;
    case DQLITE_CLIENT_TEXT:
        fputs(dqlite_rows_text(rows, i), out);
        break;
    default:
        fputs("<nil>", out);
    }
}

void formatJsonValue(FILE *out, struct dqlite_rows *rows, unsigned i)
{
    size_t len;
    const void *blob;
    const char *text;
    switch (dqlite_rows_column_type(rows, i)) {
    case DQLITE_CLIENT_INTEGER:
        fprintf(out, "%" PRId64, dqlite_rows_int64(rows, i));
        break;
    case DQLITE_CLIENT_FLOAT:
        printFloat(out, dqlite_rows_double(rows, i), true);
        break;
    case DQLITE_CLIENT_BLOB:
        blob = dqlite_rows_blob(rows, i, &len);
        printBase64(out, blob, len);
        break;
    case DQLITE_CLIENT_BOOLEAN:
        fputs(dqlite_rows_bool(rows, i) ? "true" : "false", out);
        break;
    case DQLITE_CLIENT_UNIXTIME:
    case DQLITE_CLIENT_ISO8601:
    case DQLITE_CLIENT_TEXT:
        text = dqlite_rows_text(rows, i);
        if (dqlite_rows_is_null(rows, i)) {
            fputs("null", out);
        } else if (dqlite_rows_column_type(rows, i) == DQLITE_CLIENT_TEXT ||
                   printRowTime(out, rows, i, true) != 0) {
            formatJsonString(out, text, strlen(text));
        }
        break;
    default:
        fputs("null", out);
    }
}
