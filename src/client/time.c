/*
 * The client's clock: monotonic milliseconds, deadlines, sleeping and the
 * exponential backoff of leader discovery. Every timeout of the module is
 * turned into an absolute deadline once, at the start of a call, so that
 * retries inside the call never extend it.
 */
#include <errno.h>
#include <limits.h>
#include <time.h>

#include "client/client.h"
#include "lib/assert.h"

int64_t clientNowMs(void)
{
    struct timespec ts;
    int rv = clock_gettime(CLOCK_MONOTONIC, &ts);
    ASSERT(rv == 0);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clientDeadline(unsigned timeout_ms)
{
    return clientNowMs() + (int64_t)timeout_ms;
}

int clientRemainingMs(int64_t deadline_ms)
{
    int64_t left = deadline_ms - clientNowMs();
    if (left <= 0) {
        return 0;
    }
    return left > INT_MAX ? INT_MAX : (int)left;
}

void clientSleepMs(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

unsigned clientBackoffMs(unsigned factor_ms, unsigned cap_ms, unsigned attempt)
{
    uint64_t ms;
    PRE(attempt >= 1);
    if (attempt > CLIENT_BACKOFF_SHIFT_MAX) {
        return cap_ms;
    }
    ms = (uint64_t)factor_ms << attempt;
    POST(ms >= factor_ms);
    return ms > cap_ms ? cap_ms : (unsigned)ms;
}
