/*
 * dqlited's log: one line per event on stderr, filtered by --log-level,
 * for dqlited's own events and the node's (its log function is routed
 * here): "TIMESTAMP LEVEL message", or with --log-format json one JSON
 * object per line, {"time":"...","level":"info","msg":"..."}, encoded by
 * jansson so any message is valid JSON. stdout is kept for the single
 * "listening" line that scripts wait for.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "dqlited.h"

/* Changed by SIGHUP on the main thread while the node's thread logs. */
static atomic_int log_level = LOG_INFO;
static int log_format = LOG_FORMAT_TEXT;

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
static const char *const json_levels[] = {"debug", "info", "warn", "error"};

void logSetLevel(int level)
{
    atomic_store(&log_level, level);
}

void logSetFormat(int format)
{
    log_format = format;
}

static void logJson(const char *stamp, int level, const char *message)
{
    json_t *o = json_pack("{s:s, s:s, s:s}", "time", stamp, "level",
                          json_levels[level], "msg", message);
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    if (text != NULL) {
        fprintf(stderr, "%s\n", text);
    } else { /* not UTF-8: said as text rather than lost */
        fprintf(stderr, "%s %s (not UTF-8) %s\n", stamp, level_names[level],
                message);
    }
    free(text);
    json_decref(o);
}

void logMsg(int level, const char *fmt, ...)
{
    char stamp[48];
    char date[32];
    char message[2048];
    struct timespec now;
    struct tm tm;
    va_list args;

    level = level < LOG_DEBUG   ? LOG_DEBUG
            : level > LOG_ERROR ? LOG_ERROR
                                : level;
    if (level < atomic_load(&log_level)) {
        return;
    }
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp, sizeof stamp, "%s.%03ldZ", date, now.tv_nsec / 1000000);
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    flockfile(stderr); /* the node logs from its own thread too */
    if (log_format == LOG_FORMAT_JSON) {
        logJson(stamp, level, message);
    } else {
        fprintf(stderr, "%s %-5s %s\n", stamp, level_names[level], message);
    }
    funlockfile(stderr);
}
