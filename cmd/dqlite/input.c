/*
 * Where the shell's statements come from: a terminal (libedit's readline
 * interface: line editing, history kept in ~/.dqlite_history), a stream
 * (stdin when it is not a terminal), or the command line. All three go
 * through one splitter, which cuts the text into dot-commands and SQL
 * statements using SQLite's own sqlite3_complete() for quotes, comments and
 * trigger bodies.
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>

#include "shell.h"

#define HISTORY_FILE ".dqlite_history"
#define HISTORY_MAX 1000

void splitterInit(struct splitter *s, bool bail)
{
    memset(s, 0, sizeof *s);
    s->bail = bail;
}

void splitterFree(struct splitter *s)
{
    free(s->text);
    memset(s, 0, sizeof *s);
}

bool splitterPending(const struct splitter *s)
{
    return s->len > 0;
}

static int splitterAppend(struct splitter *s, const char *p, size_t n)
{
    if (s->len + n + 2 > s->cap) {
        size_t cap = (s->len + n + 2) * 2;
        char *text = realloc(s->text, cap);
        if (text == NULL) {
            return -1;
        }
        s->text = text;
        s->cap = cap;
    }
    memcpy(s->text + s->len, p, n);
    s->len += n;
    s->text[s->len] = '\0';
    return 0;
}

/* Runs one statement or command, trimmed, unless a failure stopped us. */
static void splitterRun(struct splitter *s, struct shell *sh, char *stmt)
{
    char *end = stmt + strlen(stmt);
    while (*stmt == ' ' || *stmt == '\t' || *stmt == '\n' || *stmt == '\r') {
        stmt++;
    }
    while (end > stmt && strchr(" \t\r\n;", end[-1]) != NULL) {
        end--;
    }
    *end = '\0';
    if (*stmt == '\0' || (s->bail && s->failures > 0) || sh->quit) {
        return;
    }
    if (shellProcess(sh, stmt) != 0) {
        s->failures++;
    }
}

/* Drops the first n bytes of the text. */
static void splitterConsume(struct splitter *s, size_t n)
{
    memmove(s->text, s->text + n, s->len - n + 1);
    s->len -= n;
}

/* Runs every statement ended by a ';' (the shortest complete prefixes). */
static void splitterRunComplete(struct splitter *s, struct shell *sh)
{
    for (size_t i = 0; i < s->len; i++) {
        if (s->text[i] != ';') {
            continue;
        }
        char saved = s->text[i + 1];
        s->text[i + 1] = '\0';
        if (sqlite3_complete(s->text)) {
            splitterRun(s, sh, s->text);
            s->text[i + 1] = saved;
            splitterConsume(s, i + 1);
            i = (size_t)-1;
            continue;
        }
        s->text[i + 1] = saved;
    }
}

/* What a scan of SQL text found, skipping quotes and comments. */
struct scan {
    bool code; /* anything but blanks and comments */
    bool open; /* a quote or a block comment left open */
};

static void scanText(const char *p, struct scan *sc)
{
    memset(sc, 0, sizeof *sc);
    for (; *p != '\0'; p++) {
        const char *close = NULL;
        if (*p == '\'' || *p == '"' || *p == '`') {
            close = strchr(p + 1, *p);
        } else if (*p == '[') {
            close = strchr(p + 1, ']');
        } else if (p[0] == '-' && p[1] == '-') {
            close = strchr(p, '\n');
            if (close == NULL) {
                break; /* a line comment ends with the text */
            }
        } else if (p[0] == '/' && p[1] == '*') {
            close = strstr(p + 2, "*/");
            close = close != NULL ? close + 1 : NULL;
        } else {
            sc->code = sc->code || strchr(" \t\r\n", *p) == NULL;
            continue;
        }
        sc->code = sc->code || (p[0] != '-' && p[0] != '/');
        if (close == NULL) {
            sc->open = true;
            break;
        }
        p = close;
    }
}

int splitterFeed(struct splitter *s, const char *line, struct shell *sh)
{
    struct scan sc;
    const char *p = line + strspn(line, " \t");
    if (s->len == 0 && *p == '.') {
        /* A dot-command ends at the end of the line or at a ';'. */
        size_t n = strcspn(p, ";");
        char *copy = strndup(p, n);
        if (copy == NULL) {
            return -1;
        }
        splitterRun(s, sh, copy);
        free(copy);
        return p[n] == ';' ? splitterFeed(s, p + n + 1, sh) : 0;
    }
    if (splitterAppend(s, line, strlen(line)) != 0 ||
        splitterAppend(s, "\n", 1) != 0) {
        return -1;
    }
    splitterRunComplete(s, sh);
    /* Blanks and whole comments after the last statement are dropped, so
     * that they neither prompt for more nor join the next statement. */
    scanText(s->text, &sc);
    if (!sc.code && !sc.open) {
        splitterConsume(s, s->len);
    }
    return 0;
}

void splitterFlush(struct splitter *s, struct shell *sh)
{
    struct scan sc;
    scanText(s->text != NULL ? s->text : "", &sc);
    if (sc.code) {
        splitterRun(s, sh, s->text);
    }
    s->len = 0;
}

int inputStream(struct shell *sh, FILE *in)
{
    struct splitter s;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    splitterInit(&s, false);
    while (!sh->quit && (n = getline(&line, &cap, in)) >= 0) {
        line[n > 0 && line[n - 1] == '\n' ? n - 1 : n] = '\0';
        if (splitterFeed(&s, line, sh) != 0) {
            shellError("out of memory");
            s.failures++;
            break;
        }
    }
    splitterFlush(&s, sh);
    free(line);
    int failures = s.failures;
    splitterFree(&s);
    return failures;
}

/* The history file's path, or NULL without $HOME. */
static char *historyPath(void)
{
    const char *home = getenv("HOME");
    char *path;
    if (home == NULL || home[0] == '\0') {
        return NULL;
    }
    path = malloc(strlen(home) + sizeof HISTORY_FILE + 1);
    if (path != NULL) {
        sprintf(path, "%s/%s", home, HISTORY_FILE);
    }
    return path;
}

int inputInteractive(struct shell *sh)
{
    struct splitter s;
    char *history = historyPath();
    char *line;
    int failures;
    splitterInit(&s, false);
    using_history();
    stifle_history(HISTORY_MAX);
    if (history != NULL) {
        read_history(history);
    }
    while (!sh->quit &&
           (line = readline(splitterPending(&s) ? "   ...> " : "dqlite> ")) !=
               NULL) {
        if (line[strspn(line, " \t")] != '\0') {
            add_history(line);
        }
        if (splitterFeed(&s, line, sh) != 0) {
            shellError("out of memory");
        }
        free(line);
    }
    fputc('\n', stdout);
    splitterFlush(&s, sh);
    if (history != NULL) {
        write_history(history);
    }
    free(history);
    failures = s.failures;
    splitterFree(&s);
    return failures;
}
