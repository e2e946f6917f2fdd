/*
 * dqlited's configuration sources besides the command line: a file of
 * "NAME = VALUE" lines (--config FILE, $DQLITED_CONFIG, or
 * /etc/dqlited.conf when it exists) and DQLITED_NAME environment
 * variables. Each setting becomes the "--NAME=VALUE" argument it stands
 * for, placed before the real arguments, so every option is settable
 * everywhere, checked by the same code, and the command line wins over
 * the environment, which wins over the file (getopt's last value wins).
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dqlited.h"

/* Bounds on a configuration file. */
#define CONFIG_MAX_LINE 4096
#define CONFIG_MAX_SETTINGS 256

struct argvec {
    char **v;
    int n;
    int cap;
};

static int vecPush(struct argvec *a, char *s)
{
    if (s == NULL) {
        return -1;
    }
    if (a->n + 1 >= a->cap) {
        int cap = a->cap == 0 ? 32 : a->cap * 2;
        char **v = realloc(a->v, (size_t)cap * sizeof *v);
        if (v == NULL) {
            free(s);
            return -1;
        }
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = s;
    a->v[a->n] = NULL;
    return 0;
}

static void vecFree(struct argvec *a)
{
    for (int i = 0; i < a->n; i++) {
        free(a->v[i]);
    }
    free(a->v);
    *a = (struct argvec){0};
}

static const struct option *optionFind(const char *name)
{
    for (const struct option *o = optionsTable(); o->name != NULL; o++) {
        if (strcmp(o->name, name) == 0 && strcmp(name, "config") != 0 &&
            strcmp(name, "help") != 0 && strcmp(name, "version") != 0) {
            return o;
        }
    }
    return NULL;
}

static bool truthy(const char *v, bool *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on", ""};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (unsigned i = 0; i < 5; i++) {
        if (strcmp(v, yes[i]) == 0) {
            *out = true;
            return true;
        }
    }
    for (unsigned i = 0; i < 4; i++) {
        if (strcmp(v, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* One setting from `where` (a file's line, or a variable). */
static int settingAdd(struct argvec *a, const char *where, const char *name,
                      const char *value)
{
    const struct option *o = optionFind(name);
    bool on = true;
    if (o == NULL) {
        fprintf(stderr, "dqlited: %s: unknown option \"%s\"\n", where, name);
        return -1;
    }
    if (o->has_arg == no_argument) {
        if (value != NULL && !truthy(value, &on)) {
            fprintf(stderr, "dqlited: %s: %s is a flag: true or false\n", where,
                    name);
            return -1;
        }
        if (!on) {
            return 0;
        }
        size_t len = strlen(name) + 3;
        char *arg = malloc(len);
        if (arg != NULL) {
            snprintf(arg, len, "--%s", name);
        }
        return vecPush(a, arg);
    }
    if (value == NULL || *value == '\0') {
        fprintf(stderr, "dqlited: %s: %s needs a value\n", where, name);
        return -1;
    }
    size_t len = strlen(name) + strlen(value) + 4;
    char *arg = malloc(len);
    if (arg != NULL) {
        snprintf(arg, len, "--%s=%s", name, value);
    }
    return vecPush(a, arg);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) {
        s++;
    }
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) {
        s[--n] = '\0';
    }
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        s[n - 1] = '\0';
        s++;
    }
    return s;
}

/* "NAME = VALUE", "NAME VALUE" or "NAME" (a flag). */
static int lineParse(struct argvec *a, const char *where, char *line)
{
    char *s = trim(line);
    if (*s == '\0' || *s == '#') {
        return 0;
    }
    size_t key_len = strcspn(s, "= \t");
    char *value = NULL;
    if (s[key_len] != '\0') {
        char *rest = s + key_len + 1;
        s[key_len] = '\0';
        rest = trim(rest);
        if (*rest == '=') {
            rest = trim(rest + 1);
        }
        value = rest;
    }
    return settingAdd(a, where, s, value);
}

static int fileRead(struct argvec *a, const char *path, bool must_exist)
{
    char line[CONFIG_MAX_LINE + 2];
    char where[CONFIG_MAX_LINE];
    int n = 0;
    int rv = 0;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (errno == ENOENT && !must_exist) {
            return 0;
        }
        fprintf(stderr, "dqlited: cannot read %s: %s\n", path, strerror(errno));
        return -1;
    }
    while (rv == 0 && fgets(line, sizeof line, f) != NULL) {
        n++;
        snprintf(where, sizeof where, "%s:%d", path, n);
        if (strlen(line) > CONFIG_MAX_LINE || n > CONFIG_MAX_SETTINGS * 4) {
            fprintf(stderr, "dqlited: %s: line too long or file too big\n",
                    where);
            rv = -1;
        } else {
            rv = lineParse(a, where, line);
        }
    }
    fclose(f);
    return rv;
}

static int envRead(struct argvec *a)
{
    char var[128];
    for (const struct option *o = optionsTable(); o->name != NULL; o++) {
        if (optionFind(o->name) == NULL) {
            continue;
        }
        size_t i = snprintf(var, sizeof var, "%s", DQLITED_ENV_PREFIX);
        for (const char *p = o->name; *p != '\0' && i + 1 < sizeof var; p++) {
            var[i++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
        }
        var[i] = '\0';
        const char *value = getenv(var);
        if (value != NULL && settingAdd(a, var, o->name, value) != 0) {
            return -1;
        }
    }
    return 0;
}

bool commandLineHas(int argc, char *argv[], const char *name, char short_opt)
{
    size_t n = strlen(name);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            return false;
        }
        if ((strncmp(a, "--", 2) == 0 && strncmp(a + 2, name, n) == 0 &&
             (a[2 + n] == '\0' || a[2 + n] == '=')) ||
            (short_opt != 0 && a[0] == '-' && a[1] == short_opt)) {
            return true;
        }
    }
    return false;
}

/* The file to read: --config's, $DQLITED_CONFIG, or the default one if it
 * exists (*must_exist false). */
static const char *configPath(int argc, char *argv[], bool *must_exist)
{
    *must_exist = true;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0) &&
            i + 1 < argc) {
            return argv[i + 1];
        }
        if (strncmp(argv[i], "--config=", 9) == 0) {
            return argv[i] + 9;
        }
    }
    const char *env = getenv(DQLITED_ENV_PREFIX "CONFIG");
    if (env != NULL && *env != '\0') {
        return env;
    }
    *must_exist = false;
    return DQLITED_CONFIG_DEFAULT;
}

/* The arguments of the file and the environment (no program name). */
static int settingsRead(const char *path, bool must_exist, struct argvec *a)
{
    if (fileRead(a, path, must_exist) != 0 || envRead(a) != 0) {
        vecFree(a);
        return -1;
    }
    return 0;
}

/* Kept for the process' lifetime: the config's strings point into it. */
static struct argvec collected;

int sourcesCollect(int argc, char *argv[], struct config *cfg, char ***args,
                   int *n_args)
{
    bool must_exist;
    const char *path = configPath(argc, argv, &must_exist);
    struct argvec a = {0};
    if (vecPush(&a, strdup(argv[0])) != 0 ||
        settingsRead(path, must_exist, &a) != 0) {
        vecFree(&a);
        return -1;
    }
    for (int i = 1; i < argc; i++) {
        if (vecPush(&a, strdup(argv[i])) != 0) {
            vecFree(&a);
            return -1;
        }
    }
    cfg->config = path;
    vecFree(&collected);
    collected = a;
    *args = a.v;
    *n_args = a.n;
    return 0;
}

int optionsReloadLevel(const struct config *cfg, int *level)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    struct argvec a = {0};
    bool must_exist = strcmp(cfg->config, DQLITED_CONFIG_DEFAULT) != 0;
    const char *found = NULL;
    if (cfg->log_level_fixed) {
        *level = cfg->log_level;
        return 0;
    }
    if (settingsRead(cfg->config, must_exist, &a) != 0) {
        return -1;
    }
    for (int i = 0; i < a.n; i++) {
        if (strncmp(a.v[i], "--log-level=", 12) == 0) {
            found = a.v[i] + 12;
        }
    }
    *level = LOG_INFO;
    for (int i = 0; found != NULL && i < 4; i++) {
        if (strcmp(found, names[i]) == 0) {
            *level = i;
            found = NULL;
        }
    }
    vecFree(&a);
    if (found != NULL) {
        fprintf(stderr, "dqlited: log-level: expected debug, info, warn or "
                        "error\n");
        return -1;
    }
    return 0;
}
