/* The two things the rqlite API must know of a statement's SQL before the
 * node sees it (docs/http-api.md): its named parameters, because our wire
 * protocol binds by position only (rqlite's {"name": value} objects are
 * rewritten to ?NNN), and whether its first keyword reads, to route a
 * /db/request statement as a query or an execute. The scanner follows
 * SQLite's tokenizer only as far as needed to skip string literals,
 * quoted identifiers and comments; the node's SQLite parses the result. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http/rqlite_internal.h"
#include "lib/alloc.h"
#include "lib/assert.h"

/* Length of the literal, identifier or comment opening at s[0] (0: none).
 * An unterminated one runs to the end. */
static size_t skipQuoted(const char *s)
{
    char close;
    switch (s[0]) {
    case '\'':
    case '"':
    case '`':
        close = s[0];
        break;
    case '[':
        close = ']';
        break;
    case '-':
        if (s[1] != '-') {
            return 0;
        }
        return strcspn(s, "\n");
    case '/': {
        if (s[1] != '*') {
            return 0;
        }
        const char *end = strstr(s + 2, "*/");
        return end == NULL ? strlen(s) : (size_t)(end + 2 - s);
    }
    default:
        return 0;
    }
    size_t i = 1;
    for (;;) {
        if (s[i] == '\0') {
            return i;
        }
        if (s[i] == close) {
            if (close != ']' && s[i + 1] == close) {
                i += 2; /* a doubled quote is one quote character */
                continue;
            }
            return i + 1;
        }
        i++;
    }
}

static bool isNameChar(char c)
{
    return isalnum((unsigned char)c) || c == '_' || (unsigned char)c >= 0x80;
}

static int findName(const char **names, const size_t *lens, unsigned n,
                    const char *name, size_t len)
{
    for (unsigned i = 0; i < n; i++) {
        if (lens[i] == len && memcmp(names[i], name, len) == 0) {
            return (int)i;
        }
    }
    return -1;
}

int rqSqlRewriteNamed(const char *sql, char **out, const char **names,
                      size_t *names_len, unsigned max, unsigned *n)
{
    PRE(sql != NULL && out != NULL && n != NULL);
    size_t len = strlen(sql);
    /* "?NNNNN" (6 bytes) replaces ":x" (at least 2): at most 3x longer. */
    char *dst = libMalloc(3 * len + 1);
    size_t o = 0;
    if (dst == NULL) {
        return -ENOMEM;
    }
    *n = 0;
    for (size_t i = 0; i < len;) {
        size_t q = skipQuoted(sql + i);
        if (q > 0) {
            memcpy(dst + o, sql + i, q);
            o += q;
            i += q;
            continue;
        }
        char c = sql[i];
        if (c == '?') {
            libFree(dst);
            return -EINVAL;
        }
        if ((c == ':' || c == '@' || c == '$') && isNameChar(sql[i + 1])) {
            size_t k = i + 1;
            while (isNameChar(sql[k])) {
                k++;
            }
            int idx = findName(names, names_len, *n, sql + i + 1, k - i - 1);
            if (idx < 0) {
                if (*n == max) {
                    libFree(dst);
                    return -E2BIG;
                }
                names[*n] = sql + i + 1;
                names_len[*n] = k - i - 1;
                idx = (int)(*n)++;
            }
            o += (size_t)sprintf(dst + o, "?%d", idx + 1);
            i = k;
            continue;
        }
        dst[o++] = c;
        i++;
    }
    ASSERT(o <= 3 * len);
    dst[o] = '\0';
    *out = dst;
    return 0;
}

/* The first keyword of `sql` (comments, spaces, ';' and '(' skipped). */
static const char *firstKeyword(const char *sql)
{
    const char *s = sql;
    for (;;) {
        while (isspace((unsigned char)*s) || *s == ';' || *s == '(') {
            s++;
        }
        size_t q = (s[0] == '-' || s[0] == '/') ? skipQuoted(s) : 0;
        if (q == 0) {
            return s;
        }
        s += q;
    }
}

static bool startsWithAny(const char *s, const char *const *words, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(words[i]);
        if (strncasecmp(s, words[i], len) == 0 && !isNameChar(s[len])) {
            return true;
        }
    }
    return false;
}

bool rqSqlIsRead(const char *sql)
{
    static const char *const reads[] = {"SELECT", "WITH", "PRAGMA", "EXPLAIN",
                                        "VALUES"};
    return startsWithAny(firstKeyword(sql), reads,
                         sizeof reads / sizeof reads[0]);
}

bool rqSqlChangesRows(const char *sql)
{
    static const char *const dml[] = {"INSERT", "UPDATE", "DELETE", "REPLACE",
                                      "WITH"};
    return startsWithAny(firstKeyword(sql), dml, sizeof dml / sizeof dml[0]);
}

bool rqSqlSingle(const char *sql)
{
    const char *s = sql;
    while (*s != '\0' && *s != ';') {
        size_t q = skipQuoted(s);
        s += q > 0 ? q : 1;
    }
    if (*s == '\0') {
        return true;
    }
    /* After the first ';': only spaces, ';' and comments. */
    return *firstKeyword(s) == '\0';
}
