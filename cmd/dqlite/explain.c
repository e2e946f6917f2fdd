/*
 * EXPLAIN and EXPLAIN QUERY PLAN as Debian's sqlite3 CLI (3.40) prints
 * them in every output mode, observed from its output: EXPLAIN in a layout
 * of fixed column widths (wider values overflow, the last column of a row
 * unpadded) with the bodies of loops indented, EXPLAIN QUERY PLAN as a
 * tree under a "QUERY PLAN" line. The client cannot ask the server whether
 * a statement is an EXPLAIN (sqlite3_stmt_isexplain()), so the statement's
 * first words decide, and the columns must be the expected ones.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sqlite3.h>

#include "shell.h"

/* Skips spaces and comments. */
static const char *explainSkip(const char *p)
{
    for (;;) {
        p += strspn(p, " \t\r\n\f");
        if (p[0] == '-' && p[1] == '-') {
            p += strcspn(p, "\n");
        } else if (p[0] == '/' && p[1] == '*' && strstr(p + 2, "*/") != NULL) {
            p = strstr(p + 2, "*/") + 2;
        } else {
            return p;
        }
    }
}

/* Whether `word` (any case) starts at *p and ends there; skips it. */
static bool explainWord(const char **p, const char *word)
{
    size_t len = strlen(word);
    if (strncasecmp(*p, word, len) != 0 || isalnum((unsigned char)(*p)[len]) ||
        (*p)[len] == '_') {
        return false;
    }
    *p += len;
    return true;
}

int explainKind(const char *stmt)
{
    const char *p = explainSkip(stmt);
    if (!explainWord(&p, "EXPLAIN")) {
        return EXPLAIN_NONE;
    }
    p = explainSkip(p);
    if (explainWord(&p, "QUERY")) {
        p = explainSkip(p);
        if (explainWord(&p, "PLAN")) {
            return EXPLAIN_QUERY_PLAN;
        }
    }
    return EXPLAIN_PROGRAM;
}

/* The rows of a result, each value as text (NULL as ""). */
struct explain_table {
    unsigned n_cols;
    unsigned n_rows;
    unsigned cap;
    char **cells; /* n_rows * n_cols, malloc'd */
};

static void tableFree(struct explain_table *t)
{
    for (size_t i = 0; i < (size_t)t->n_rows * t->n_cols; i++) {
        free(t->cells[i]);
    }
    free(t->cells);
}

static char *explainText(struct dqlite_rows *rows, unsigned i)
{
    char buf[64];
    const char *text = "";
    size_t len;
    switch (dqlite_rows_column_type(rows, i)) {
    case DQLITE_CLIENT_INTEGER:
    case DQLITE_CLIENT_UNIXTIME:
    case DQLITE_CLIENT_BOOLEAN:
        snprintf(buf, sizeof buf, "%" PRId64, dqlite_rows_int64(rows, i));
        text = buf;
        break;
    case DQLITE_CLIENT_FLOAT:
        sqlite3_snprintf(sizeof buf, buf, "%!.15g",
                         dqlite_rows_double(rows, i));
        text = buf;
        break;
    case DQLITE_CLIENT_TEXT:
    case DQLITE_CLIENT_ISO8601:
        if (!dqlite_rows_is_null(rows, i)) {
            text = dqlite_rows_text(rows, i);
        }
        break;
    case DQLITE_CLIENT_BLOB: {
        const void *p = dqlite_rows_blob(rows, i, &len);
        char *copy = malloc(len + 1);
        if (copy != NULL) {
            memcpy(copy, p != NULL ? p : "", p != NULL ? len : 0);
            copy[p != NULL ? len : 0] = '\0';
        }
        return copy;
    }
    default:
        break;
    }
    return strdup(text);
}

/* Reads every row; the last dqlite_rows_next() result, or -1. */
static int tableRead(struct dqlite_rows *rows, struct explain_table *t)
{
    int rv;
    while ((rv = dqlite_rows_next(rows)) == DQLITE_CLIENT_ROW) {
        if (t->n_rows == t->cap) {
            unsigned cap = t->cap == 0 ? 32 : t->cap * 2;
            char **grown =
                realloc(t->cells, (size_t)cap * t->n_cols * sizeof *grown);
            if (grown == NULL) {
                return -1;
            }
            t->cells = grown;
            t->cap = cap;
        }
        char **row = &t->cells[(size_t)t->n_rows * t->n_cols];
        for (unsigned i = 0; i < t->n_cols; i++) {
            row[i] = explainText(rows, i);
            if (row[i] == NULL) {
                for (unsigned j = 0; j < i; j++) {
                    free(row[j]);
                }
                return -1;
            }
        }
        t->n_rows++;
    }
    return rv;
}

static const char *cell(const struct explain_table *t, unsigned row,
                        unsigned col)
{
    return t->cells[(size_t)row * t->n_cols + col];
}

/* Prints `s` left-aligned in `width` characters (UTF-8 code points). */
static void explainPad(FILE *out, const char *s, unsigned width)
{
    unsigned chars = 0;
    for (const char *p = s; *p != '\0'; p++) {
        chars += ((unsigned char)*p & 0xc0) != 0x80;
    }
    fputs(s, out);
    for (; chars < width; chars++) {
        fputc(' ', out);
    }
}

static bool explainIn(const char *op, const char *const *set)
{
    for (; *set != NULL; set++) {
        if (strcmp(op, *set) == 0) {
            return true;
        }
    }
    return false;
}

/* Columns of EXPLAIN: addr opcode p1 p2 p3 p4 p5 comment. */
#define EXPLAIN_COLS 8

/* The indentation of each instruction: a loop's body (from the target of
 * a backward jump that closes a loop up to that jump) is indented by two
 * more spaces for each loop around it. A backward jump closes a loop when
 * it is one of `closes` (a Return only with a target), or a Goto to one of
 * `opens` or with a non-zero p1 (no statement of explain.sql makes the
 * latter; the others are compared with sqlite3 there). */
static void explainIndent(const struct explain_table *t, unsigned *indent)
{
    static const char *const closes[] = {
        "Next", "Prev", "VNext", "VPrev", "SorterNext", "Return", NULL};
    static const char *const opens[] = {"Yield",      "SeekLT", "SeekGT",
                                        "RowSetRead", "Rewind", NULL};
    int64_t base = t->n_rows > 0 ? strtoll(cell(t, 0, 0), NULL, 10) : 0;
    for (unsigned i = 0; i < t->n_rows; i++) {
        const char *op = cell(t, i, 1);
        int64_t target = strtoll(cell(t, i, 3), NULL, 10) - base;
        if (target < 0 || target >= (int64_t)i) {
            continue;
        }
        /* A Return whose p2 is 0 jumps back to its caller: no loop. */
        bool loop = (explainIn(op, closes) && target > 0) ||
                    (strcmp(op, "Goto") == 0 &&
                     (explainIn(cell(t, (unsigned)target, 1), opens) ||
                      strtoll(cell(t, i, 2), NULL, 10) != 0));
        for (unsigned j = (unsigned)target; loop && j < i; j++) {
            indent[j] += 2;
        }
    }
}

static void explainProgram(struct shell *sh, const struct explain_table *t)
{
    static const unsigned widths[EXPLAIN_COLS] = {4, 13, 4, 4, 4, 13, 2, 13};
    static const char *const names[EXPLAIN_COLS] = {
        "addr", "opcode", "p1", "p2", "p3", "p4", "p5", "comment"};
    unsigned *indent = calloc(t->n_rows + 1, sizeof *indent);
    if (indent != NULL) {
        explainIndent(t, indent);
    }
    for (unsigned i = 0; i < EXPLAIN_COLS; i++) {
        explainPad(sh->out, names[i], widths[i]);
        fputs(i + 1 < EXPLAIN_COLS ? "  " : "\n", sh->out);
    }
    for (unsigned i = 0; i < EXPLAIN_COLS; i++) {
        for (unsigned j = 0; j < widths[i]; j++) {
            fputc('-', sh->out);
        }
        fputs(i + 1 < EXPLAIN_COLS ? "  " : "\n", sh->out);
    }
    for (unsigned r = 0; r < t->n_rows; r++) {
        for (unsigned i = 0; i < EXPLAIN_COLS; i++) {
            if (i == 1 && indent != NULL) {
                fprintf(sh->out, "%*s", (int)indent[r], "");
            }
            if (i + 1 < EXPLAIN_COLS) {
                explainPad(sh->out, cell(t, r, i), widths[i]);
                fputs("  ", sh->out);
            } else {
                fprintf(sh->out, "%s\n", cell(t, r, i));
            }
        }
    }
    free(indent);
}

/* Columns of EXPLAIN QUERY PLAN: id parent notused detail. Prints the
 * children of `parent`, each under `prefix`. */
static void explainTree(struct shell *sh, const struct explain_table *t,
                        const char *parent, char *prefix, size_t depth)
{
    unsigned last = t->n_rows;
    for (unsigned r = 0; r < t->n_rows; r++) {
        if (strcmp(cell(t, r, 1), parent) == 0) {
            last = r;
        }
    }
    for (unsigned r = 0; r < t->n_rows; r++) {
        if (strcmp(cell(t, r, 1), parent) != 0 ||
            strcmp(cell(t, r, 0), parent) == 0) {
            continue;
        }
        fprintf(sh->out, "%.*s%s%s\n", (int)depth, prefix,
                r == last ? "`--" : "|--", cell(t, r, 3));
        if (depth + 3 < 3 * 64) { /* no deeper than 64 levels */
            memcpy(prefix + depth, r == last ? "   " : "|  ", 3);
            explainTree(sh, t, cell(t, r, 0), prefix, depth + 3);
        }
    }
}

int explainPrint(struct shell *sh, struct dqlite_rows *rows, int kind)
{
    struct explain_table t = {.n_cols = dqlite_rows_column_count(rows)};
    int rv = tableRead(rows, &t);
    if (rv == DQLITE_CLIENT_DONE && kind == EXPLAIN_PROGRAM) {
        explainProgram(sh, &t);
    } else if (rv == DQLITE_CLIENT_DONE && t.n_rows > 0) {
        char prefix[3 * 64];
        fputs("QUERY PLAN\n", sh->out);
        explainTree(sh, &t, "0", prefix, 0);
    }
    tableFree(&t);
    return rv;
}

bool explainColumns(struct dqlite_rows *rows, int kind)
{
    static const char *const program[] = {"addr", "opcode", "p1", "p2",
                                          "p3",   "p4",     "p5", "comment"};
    static const char *const plan[] = {"id", "parent", "notused", "detail"};
    const char *const *names = kind == EXPLAIN_PROGRAM ? program : plan;
    unsigned n = kind == EXPLAIN_PROGRAM ? 8 : 4;
    if (kind == EXPLAIN_NONE || dqlite_rows_column_count(rows) != n) {
        return false;
    }
    for (unsigned i = 0; i < n; i++) {
        if (strcmp(dqlite_rows_column_name(rows, i), names[i]) != 0) {
            return false;
        }
    }
    return true;
}
