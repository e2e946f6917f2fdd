/*
 * ISO8601 texts as go-dqlite reads them from rows: after dropping one
 * trailing 'Z', the first of these layouts that matches the whole text
 * (Go notation; ' ' or 'T' between date and time):
 *   2006-01-02 15:04:05.999999999-07:00    2006-01-02 15:04:05.999999999
 *   2006-01-02 15:04:05                    2006-01-02 15:04
 *   2006-01-02
 * Without an offset the time is UTC. Pure arithmetic: no locale, no TZ.
 */
#include <string.h>

#include "client/client.h"
#include "lib/assert.h"
#include "lib/err.h"

/* Reads exactly `n` digits. */
static bool tpDigits(const char **p, int n, int *out)
{
    int v = 0;
    int k;
    for (k = 0; k < n; k++) {
        char ch = (*p)[k];
        if (ch < '0' || ch > '9') {
            return false;
        }
        v = v * 10 + (ch - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool tpChar(const char **p, char ch)
{
    if (**p != ch) {
        return false;
    }
    (*p)++;
    return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t tpDays(int64_t y, int m, int d)
{
    int64_t era;
    int64_t yoe;
    int64_t doy;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

/* ".fffffffff" (1 to 9 digits) */
static bool tpFraction(const char **p, int32_t *nsec)
{
    int32_t v = 0;
    int n = 0;
    if (!tpChar(p, '.')) {
        return true;
    }
    while (**p >= '0' && **p <= '9' && n < 9) {
        v = v * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    if (n == 0) {
        return false;
    }
    for (; n < 9; n++) {
        v *= 10;
    }
    *nsec = v;
    return true;
}

/* "+HH:MM" / "-HH:MM" */
static bool tpOffset(const char **p, int32_t *off)
{
    int sign = **p == '-' ? -1 : 1;
    int hh;
    int mm;
    if (**p != '+' && **p != '-') {
        return true;
    }
    (*p)++;
    if (!tpDigits(p, 2, &hh) || !tpChar(p, ':') || !tpDigits(p, 2, &mm)) {
        return false;
    }
    *off = sign * (hh * 3600 + mm * 60);
    return true;
}

/* "[ T]HH:MM[:SS[.f][+HH:MM]]" after the date. */
static bool tpClock(const char **p, int *secs, int32_t *nsec, int32_t *off)
{
    int hh;
    int mm;
    int ss = 0;
    if (**p == '\0') {
        return true;
    }
    if (**p != ' ' && **p != 'T') {
        return false;
    }
    (*p)++;
    if (!tpDigits(p, 2, &hh) || !tpChar(p, ':') || !tpDigits(p, 2, &mm)) {
        return false;
    }
    if (tpChar(p, ':') &&
        (!tpDigits(p, 2, &ss) || !tpFraction(p, nsec) || !tpOffset(p, off))) {
        return false;
    }
    if (hh > 23 || mm > 59 || ss > 60) {
        return false;
    }
    *secs = hh * 3600 + mm * 60 + ss;
    return true;
}

int clientTimeParse(const char *text, int64_t *unix_sec, int32_t *nsec,
                    int32_t *utc_offset_sec)
{
    char buf[64];
    const char *p = buf;
    size_t len = strlen(text);
    int y;
    int mo;
    int d;
    int secs = 0;
    if (len > 0 && text[len - 1] == 'Z') {
        len--;
    }
    if (len >= sizeof buf) {
        return ERR_INVALID;
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    *nsec = 0;
    *utc_offset_sec = 0;
    if (!tpDigits(&p, 4, &y) || !tpChar(&p, '-') || !tpDigits(&p, 2, &mo) ||
        !tpChar(&p, '-') || !tpDigits(&p, 2, &d) || mo < 1 || mo > 12 ||
        d < 1 || d > 31 || !tpClock(&p, &secs, nsec, utc_offset_sec) ||
        *p != '\0') {
        return ERR_INVALID;
    }
    *unix_sec = tpDays(y, mo, d) * 86400 + secs - *utc_offset_sec;
    return 0;
}
