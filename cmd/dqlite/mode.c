/*
 * The sqlite3 CLI's output modes (list, csv, column, json, line, table),
 * byte for byte as Debian's sqlite3 3.40 prints a result set: values as
 * SQLite's sqlite3_column_text() renders them (floats with "%!.15g", blobs
 * as their raw bytes), NULL as the empty string, .headers on|off. Column
 * and table widths count UTF-8 characters, tabs expand to the next multiple
 * of 8 and other control characters break a value into lines, as sqlite3
 * does; those two modes hold the whole result before printing it (so does
 * sqlite3), the others stream row by row. The go-dqlite modes (tabular,
 * json) stay in sql.c and format.c.
 */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "shell.h"

/* sqlite3's default width limit in its columnar modes (.mode column
 * --wrap 60). */
#define DISPLAY_WRAP 60

static const char *const mode_names[] = {
    [SHELL_MODE_TABULAR] = "tabular", [SHELL_MODE_GO_JSON] = "json-go",
    [SHELL_MODE_LIST] = "list",       [SHELL_MODE_CSV] = "csv",
    [SHELL_MODE_COLUMN] = "column",   [SHELL_MODE_JSON] = "json",
    [SHELL_MODE_LINE] = "line",       [SHELL_MODE_TABLE] = "table",
};

int modeParse(const char *name)
{
    for (int m = SHELL_MODE_LIST; m <= SHELL_MODE_TABLE; m++) {
        if (strcmp(name, mode_names[m]) == 0) {
            return m;
        }
    }
    return strcmp(name, "tabular") == 0 ? SHELL_MODE_TABULAR : -1;
}

const char *modeName(int mode)
{
    return mode_names[mode];
}

/* A value as sqlite3 sees it: its type and its text (NULL for NULL; a
 * blob's bytes, NUL-terminated). */
struct cell {
    int type; /* SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, ... */
    double real;
    char *text;
    size_t len;
};

static int cellDup(struct cell *c, const void *p, size_t len)
{
    c->text = malloc(len + 1);
    if (c->text == NULL) {
        return -1;
    }
    memcpy(c->text, p, len);
    c->text[len] = '\0';
    c->len = len;
    return 0;
}

/* The current row's column i. dqlite's time and boolean types are what
 * SQLite holds: ISO8601 is text, UNIXTIME and BOOLEAN are integers. */
static int cellGet(struct dqlite_rows *rows, unsigned i, struct cell *c)
{
    char buf[64];
    const void *p;
    size_t len;
    memset(c, 0, sizeof *c);
    switch (dqlite_rows_column_type(rows, i)) {
    case DQLITE_CLIENT_INTEGER:
    case DQLITE_CLIENT_UNIXTIME:
    case DQLITE_CLIENT_BOOLEAN:
        c->type = SQLITE_INTEGER;
        snprintf(buf, sizeof buf, "%" PRId64, dqlite_rows_int64(rows, i));
        return cellDup(c, buf, strlen(buf));
    case DQLITE_CLIENT_FLOAT:
        c->type = SQLITE_FLOAT;
        c->real = dqlite_rows_double(rows, i);
        sqlite3_snprintf(sizeof buf, buf, "%!.15g", c->real);
        return cellDup(c, buf, strlen(buf));
    case DQLITE_CLIENT_TEXT:
    case DQLITE_CLIENT_ISO8601:
        if (dqlite_rows_is_null(rows, i)) {
            c->type = SQLITE_NULL;
            return 0;
        }
        c->type = SQLITE_TEXT;
        p = dqlite_rows_text(rows, i);
        return cellDup(c, p, strlen(p));
    case DQLITE_CLIENT_BLOB:
        c->type = SQLITE_BLOB;
        p = dqlite_rows_blob(rows, i, &len);
        return cellDup(c, p != NULL ? p : "", p != NULL ? len : 0);
    default:
        c->type = SQLITE_NULL;
        return 0;
    }
}

/* --------------------------------------------------- list, csv, line */

/* Whether sqlite3 quotes a CSV field holding byte c: controls, space,
 * '"', '\'', DEL and every non-ASCII byte. */
static bool csvNeedsQuote(unsigned char c)
{
    return c <= 0x20 || c == '"' || c == '\'' || c >= 0x7f;
}

static void csvField(FILE *out, const char *z, const char *sep)
{
    bool quote = z[0] == '\0' || strstr(z, sep) != NULL;
    for (const char *p = z; *p != '\0' && !quote; p++) {
        quote = csvNeedsQuote((unsigned char)*p);
    }
    if (!quote) {
        fputs(z, out);
        return;
    }
    fputc('"', out);
    for (const char *p = z; *p != '\0'; p++) {
        if (*p == '"') {
            fputc('"', out);
        }
        fputc(*p, out);
    }
    fputc('"', out);
}

static void jsonString(FILE *out, const char *z, size_t len)
{
    fputc('"', out);
    for (size_t k = 0; k < len; k++) {
        unsigned char c = (unsigned char)z[k];
        if (c == '\\' || c == '"') {
            fputc('\\', out);
            fputc(c, out);
        } else if (c <= 0x1f) {
            const char *esc = strchr("\bb\ff\nn\rr\tt", c);
            if (c != 0 && esc != NULL) {
                fprintf(out, "\\%c", esc[1]);
            } else {
                fprintf(out, "\\u%04x", c);
            }
        } else {
            fputc(c, out);
        }
    }
    fputc('"', out);
}

static void jsonValue(FILE *out, const struct cell *c)
{
    char buf[64];
    if (c->type == SQLITE_NULL) {
        fputs("null", out);
    } else if (c->type == SQLITE_FLOAT) {
        if (c->real > 0 && c->real * 0.5 == c->real) {
            fputs("1e999", out);
        } else if (c->real < 0 && c->real * 0.5 == c->real) {
            fputs("-1e999", out);
        } else {
            sqlite3_snprintf(sizeof buf, buf, "%!.20g", c->real);
            fputs(buf, out);
        }
    } else if (c->type == SQLITE_BLOB || c->type == SQLITE_TEXT) {
        jsonString(out, c->text, c->len);
    } else {
        fputs(c->text, out);
    }
}

/* One row (or the header when `cells` is NULL) in a streaming mode. */
static void modeRow(struct shell *sh, struct dqlite_rows *rows,
                    const struct cell *cells, unsigned n, unsigned row)
{
    FILE *out = sh->out;
    for (unsigned i = 0; i < n; i++) {
        const char *name = dqlite_rows_column_name(rows, i);
        const char *z = cells == NULL                  ? name
                        : cells[i].type == SQLITE_NULL ? ""
                                                       : cells[i].text;
        switch (sh->mode) {
        case SHELL_MODE_LIST:
            fprintf(out, "%s%s", z, i + 1 < n ? "|" : "\n");
            break;
        case SHELL_MODE_CSV:
            if (cells == NULL || cells[i].type != SQLITE_NULL) {
                csvField(out, z, ","); /* NULL: nothing, not "" */
            }
            fputs(i + 1 < n ? "," : "\r\n", out);
            break;
        case SHELL_MODE_JSON:
            fputs(i > 0 ? "," : row == 0 ? "[{" : ",\n{", out);
            jsonString(out, name, strlen(name));
            fputc(':', out);
            jsonValue(out, &cells[i]);
            fputs(i + 1 < n ? "" : "}", out);
            break;
        default: {
            int w = 5;
            for (unsigned k = 0; k < n; k++) {
                int len = (int)strlen(dqlite_rows_column_name(rows, k));
                w = len > w ? len : w;
            }
            if (i == 0 && row > 0) {
                fputc('\n', out);
            }
            fprintf(out, "%*s = %s\n", w, name, z);
        }
        }
    }
}

/* ------------------------------------------------------ column, table */

/* The lines of a result: one string per cell (column names first), a
 * value with line breaks spread over several lines. */
struct grid {
    unsigned n_cols;
    size_t n_lines; /* header included */
    size_t cap;
    char **cells;   /* n_lines * n_cols */
    bool *row_end;  /* per line: the last of its row */
    bool multiline; /* some value took several lines */
};

static int gridAddLine(struct grid *g)
{
    if (g->n_lines == g->cap) {
        size_t cap = g->cap == 0 ? 16 : g->cap * 2;
        char **cells = realloc(g->cells, cap * g->n_cols * sizeof *cells);
        if (cells == NULL) {
            return -1;
        }
        g->cells = cells;
        bool *ends = realloc(g->row_end, cap * sizeof *ends);
        if (ends == NULL) {
            return -1;
        }
        g->row_end = ends;
        g->cap = cap;
    }
    memset(&g->cells[g->n_lines * g->n_cols], 0, g->n_cols * sizeof *g->cells);
    g->row_end[g->n_lines++] = true;
    return 0;
}

/* The first display line of `z` into a new string, as sqlite3 3.40 cuts
 * values in its columnar modes: at most DISPLAY_WRAP characters (tabs
 * expanded to the next multiple of 8), and any control character other
 * than a tab ends the line ("\r\n" counting as one). *tail is where the
 * next line starts, NULL when nothing follows. */
static char *displayLine(const char *text, const char **tail)
{
    const unsigned char *z = (const unsigned char *)text;
    size_t i = 0, j = 0;
    int n = 0;
    while (n < DISPLAY_WRAP) {
        if (z[i] >= ' ') {
            n++;
            do {
                i++, j++;
            } while ((z[i] & 0xc0) == 0x80);
        } else if (z[i] == '\t') {
            do {
                n++, j++;
            } while ((n & 7) != 0 && n < DISPLAY_WRAP);
            i++;
        } else {
            break;
        }
    }
    if (n >= DISPLAY_WRAP && z[i] >= ' ') {
        *tail = text + i;
    } else if (z[i] == '\r' && z[i + 1] == '\n') {
        *tail = z[i + 2] != '\0' ? text + i + 2 : NULL;
    } else if (z[i] == '\0' || z[i + 1] == '\0') {
        *tail = NULL;
    } else {
        *tail = text + i + 1;
    }
    char *line = malloc(j + 1);
    if (line == NULL) {
        return NULL;
    }
    size_t o = 0;
    n = 0;
    for (size_t k = 0; k < i; k++) {
        if (z[k] == '\t') {
            do {
                line[o++] = ' ', n++;
            } while ((n & 7) != 0 && n < DISPLAY_WRAP);
        } else {
            n += (z[k] & 0xc0) != 0x80;
            line[o++] = (char)z[k];
        }
    }
    line[j] = '\0';
    return line;
}

/* Adds one row of values (`texts`: NULL for NULL), over several lines if a
 * value holds line breaks. */
static int gridAddRow(struct grid *g, const char *const *texts)
{
    const char **next = calloc(g->n_cols, sizeof *next);
    bool more = true;
    int rv = 0;
    if (next == NULL) {
        return -1;
    }
    for (unsigned i = 0; i < g->n_cols; i++) {
        next[i] = texts[i] != NULL ? texts[i] : "";
    }
    for (bool first = true; more && rv == 0; first = false) {
        if (gridAddLine(g) != 0) {
            rv = -1;
            break;
        }
        if (!first) {
            g->row_end[g->n_lines - 2] = false;
            g->multiline = true;
        }
        more = false;
        for (unsigned i = 0; i < g->n_cols; i++) {
            const char *tail = NULL;
            char *line = displayLine(next[i] != NULL ? next[i] : "", &tail);
            if (line == NULL) {
                rv = -1;
                break;
            }
            g->cells[(g->n_lines - 1) * g->n_cols + i] = line;
            next[i] = tail;
            more = more || tail != NULL;
        }
    }
    free(next);
    return rv;
}

static void gridFree(struct grid *g)
{
    for (size_t k = 0; k < g->n_lines * g->n_cols; k++) {
        free(g->cells[k]);
    }
    free(g->cells);
    free(g->row_end);
}

static int charCount(const char *z)
{
    int n = 0;
    for (; *z != '\0'; z++) {
        n += ((unsigned char)*z & 0xc0) != 0x80;
    }
    return n;
}

static void padded(FILE *out, const char *z, int w)
{
    fprintf(out, "%s%*s", z, w - charCount(z), "");
}

static void tableRule(FILE *out, const int *widths, unsigned n)
{
    fputc('+', out);
    for (unsigned i = 0; i < n; i++) {
        for (int k = 0; k < widths[i] + 2; k++) {
            fputc('-', out);
        }
        fputc('+', out);
    }
    fputc('\n', out);
}

static void gridHeader(struct shell *sh, const struct grid *g, const int *w)
{
    unsigned n = g->n_cols;
    if (sh->mode == SHELL_MODE_TABLE) {
        tableRule(sh->out, w, n);
        fputs("| ", sh->out);
        for (unsigned i = 0; i < n; i++) {
            int pad = w[i] - charCount(g->cells[i]);
            fprintf(sh->out, "%*s%s%*s%s", pad / 2, "", g->cells[i],
                    (pad + 1) / 2, "", i + 1 == n ? " |\n" : " | ");
        }
        tableRule(sh->out, w, n);
    } else if (sh->headers) {
        for (unsigned i = 0; i < n; i++) {
            padded(sh->out, g->cells[i], w[i]);
            fputs(i + 1 == n ? "\n" : "  ", sh->out);
        }
        for (unsigned i = 0; i < n; i++) {
            for (int k = 0; k < w[i]; k++) {
                fputc('-', sh->out);
            }
            fputs(i + 1 == n ? "\n" : "  ", sh->out);
        }
    }
}

static int gridPrint(struct shell *sh, const struct grid *g)
{
    unsigned n = g->n_cols;
    bool table = sh->mode == SHELL_MODE_TABLE;
    int *w = calloc(n, sizeof *w);
    if (w == NULL) {
        return -1;
    }
    for (size_t k = 0; k < g->n_lines * n; k++) {
        int len = charCount(g->cells[k]);
        w[k % n] = len > w[k % n] ? len : w[k % n];
    }
    gridHeader(sh, g, w);
    for (size_t l = 1; l < g->n_lines; l++) {
        fputs(table ? "| " : "", sh->out);
        for (unsigned i = 0; i < n; i++) {
            padded(sh->out, g->cells[l * n + i], w[i]);
            fputs(i + 1 < n ? (table ? " | " : "  ") : (table ? " |\n" : "\n"),
                  sh->out);
        }
        if (g->multiline && g->row_end[l] && l + 1 < g->n_lines) {
            if (table) {
                tableRule(sh->out, w, n);
            } else {
                fputc('\n', sh->out);
            }
        }
    }
    if (table) {
        tableRule(sh->out, w, n);
    }
    free(w);
    return 0;
}

/* ------------------------------------------------------------ driver */

static void cellsFree(struct cell *cells, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        free(cells[i].text);
        cells[i].text = NULL;
    }
}

/* Reads the rows, printing them; the result of the last dqlite_rows_next()
 * (DQLITE_CLIENT_DONE when all went well), or -1 out of memory. */
int modePrint(struct shell *sh, struct dqlite_rows *rows)
{
    unsigned n = dqlite_rows_column_count(rows);
    unsigned row = 0;
    bool grid_mode =
        sh->mode == SHELL_MODE_COLUMN || sh->mode == SHELL_MODE_TABLE;
    struct grid g = {.n_cols = n};
    struct cell *cells = calloc(n + 1, sizeof *cells);
    const char **texts = calloc(n + 1, sizeof *texts);
    int rv = cells == NULL || texts == NULL ? -1 : 0;
    while (rv == 0 && (rv = dqlite_rows_next(rows)) == DQLITE_CLIENT_ROW) {
        rv = 0;
        for (unsigned i = 0; i < n && rv == 0; i++) {
            rv = cellGet(rows, i, &cells[i]);
            texts[i] = cells[i].text;
        }
        if (rv == 0 && grid_mode && row == 0) {
            for (unsigned i = 0; i < n; i++) {
                texts[i] = dqlite_rows_column_name(rows, i);
            }
            rv = gridAddRow(&g, texts);
            for (unsigned i = 0; i < n; i++) {
                texts[i] = cells[i].text;
            }
        }
        if (rv == 0 && grid_mode) {
            rv = gridAddRow(&g, texts);
        } else if (rv == 0) {
            if (row == 0 && sh->headers &&
                (sh->mode == SHELL_MODE_LIST || sh->mode == SHELL_MODE_CSV)) {
                modeRow(sh, rows, NULL, n, row);
            }
            modeRow(sh, rows, cells, n, row);
        }
        cellsFree(cells, n);
        row++;
    }
    if (rv == DQLITE_CLIENT_DONE && row > 0) {
        if (grid_mode && gridPrint(sh, &g) != 0) {
            rv = -1;
        } else if (sh->mode == SHELL_MODE_JSON) {
            fputs("]\n", sh->out);
        }
    }
    if (cells != NULL) {
        cellsFree(cells, n);
    }
    gridFree(&g);
    free(cells);
    free(texts);
    return rv;
}
