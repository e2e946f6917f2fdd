/* The clock helpers: backoff steps and go-dqlite's ISO8601 layouts. */
#include <criterion/criterion.h>

#include "client/client.h"
#include "fake.h"

TestSuite(time, .init = fakeWatchdog);

Test(time, backoff_doubles_from_twice_the_factor_and_caps)
{
    cr_assert_eq(clientBackoffMs(50, 1000, 1), 100);
    cr_assert_eq(clientBackoffMs(50, 1000, 2), 200);
    cr_assert_eq(clientBackoffMs(50, 1000, 3), 400);
    cr_assert_eq(clientBackoffMs(50, 1000, 4), 800);
    cr_assert_eq(clientBackoffMs(50, 1000, 5), 1000);
    cr_assert_eq(clientBackoffMs(50, 1000, 64), 1000);
    cr_assert_eq(clientBackoffMs(100, 1000, 1), 200);
}

Test(time, deadlines)
{
    int64_t d = clientDeadline(1000);
    int left = clientRemainingMs(d);
    cr_assert(left > 0 && left <= 1000);
    cr_assert_eq(clientRemainingMs(clientNowMs() - 5), 0);
}

static void parses(const char *text, int64_t sec, int32_t nsec, int32_t off)
{
    int64_t s;
    int32_t ns;
    int32_t o;
    cr_assert_eq(clientTimeParse(text, &s, &ns, &o), 0, "%s", text);
    cr_assert_eq(s, sec, "%s: %lld", text, (long long)s);
    cr_assert_eq(ns, nsec, "%s", text);
    cr_assert_eq(o, off, "%s", text);
}

Test(time, iso8601_layouts)
{
    parses("2023-05-17 12:34:56+00:00", 1684326896, 0, 0);
    parses("2023-05-17T12:34:56+02:00", 1684326896 - 7200, 0, 7200);
    parses("2023-05-17 12:34:56.5-01:30", 1684326896 + 5400, 500000000, -5400);
    parses("2023-05-17 12:34:56.123456789", 1684326896, 123456789, 0);
    parses("2023-05-17 12:34:56Z", 1684326896, 0, 0);
    parses("2023-05-17T12:34", 1684326840, 0, 0);
    parses("2023-05-17", 1684281600, 0, 0);
    parses("1969-12-31 23:59:59", -1, 0, 0);
}

Test(time, iso8601_rejects)
{
    int64_t s;
    int32_t ns;
    int32_t o;
    cr_assert_neq(clientTimeParse("", &s, &ns, &o), 0);
    cr_assert_neq(clientTimeParse("yesterday", &s, &ns, &o), 0);
    cr_assert_neq(clientTimeParse("2023-13-01", &s, &ns, &o), 0);
    cr_assert_neq(clientTimeParse("2023-05-17 12", &s, &ns, &o), 0);
    cr_assert_neq(clientTimeParse("2023-05-17 12:34:56.", &s, &ns, &o), 0);
    cr_assert_neq(clientTimeParse("2023-05-17 12:34:56 junk", &s, &ns, &o), 0);
}
