/*
 * dqlited's log: one line per event on stderr, "TIMESTAMP LEVEL message",
 * filtered by --log-level, for dqlited's own events and the node's (its
 * log function is routed here). stdout is kept for the single "listening" line
 * that scripts wait for.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "dqlited.h"

static int log_level = LOG_INFO;

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void logSetLevel(int level)
{
    log_level = level;
}

void logMsg(int level, const char *fmt, ...)
{
    char stamp[32];
    struct timespec now;
    struct tm tm;
    va_list args;

    level = level < LOG_DEBUG   ? LOG_DEBUG
            : level > LOG_ERROR ? LOG_ERROR
                                : level;
    if (level < log_level) {
        return;
    }
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    flockfile(stderr); /* the node logs from its own thread too */
    fprintf(stderr, "%s.%03ldZ %-5s ", stamp, now.tv_nsec / 1000000,
            level_names[level]);
    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);
    fputc('\n', stderr);
    funlockfile(stderr);
}
