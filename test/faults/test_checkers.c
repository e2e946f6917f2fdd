/*
 * Unit tests of the harness's checkers (checker.h) on small known-good
 * and known-bad histories, written in the text format of docs/faults.md,
 * so that a green fault run means something.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "checker.h"

static struct faults_history load(const char *text)
{
    struct faults_history h;
    char line[512];
    historyInit(&h);
    while (*text != '\0') {
        const char *nl = strchr(text, '\n');
        size_t len = nl ? (size_t)(nl - text) : strlen(text);
        snprintf(line, sizeof line, "%.*s", (int)len, text);
        cr_assert_eq(historyParseLine(&h, line), 0, "%s", line);
        text += len + (nl != NULL);
    }
    return h;
}

static int reg(const char *text)
{
    struct faults_history h = load(text);
    FILE *null = fopen("/dev/null", "w");
    int rv = checkRegister(&h, 5000000, null);
    fclose(null);
    historyFree(&h);
    return rv;
}

Test(register, sequential_ok)
{
    cr_assert_eq(reg("1 0 invoke write 1 5\n2 0 ok write 1 5\n"
                     "3 1 invoke read 1 -\n4 1 ok read 1 5\n"),
                 0);
}

Test(register, stale_read_is_caught)
{
    cr_assert_eq(reg("1 0 invoke write 1 5\n2 0 ok write 1 5\n"
                     "3 0 invoke write 1 6\n4 0 ok write 1 6\n"
                     "5 1 invoke read 1 -\n6 1 ok read 1 5\n"),
                 1);
}

Test(register, concurrent_read_may_see_either)
{
    const char *h = "1 0 invoke write 1 5\n2 0 ok write 1 5\n"
                    "3 0 invoke write 1 6\n4 1 invoke read 1 -\n"
                    "5 1 ok read 1 5\n6 2 invoke read 1 -\n"
                    "7 2 ok read 1 6\n8 0 ok write 1 6\n";
    cr_assert_eq(reg(h), 0);
}

Test(register, reads_cannot_go_back_in_time)
{
    const char *h = "1 0 invoke write 1 5\n2 0 ok write 1 5\n"
                    "3 0 invoke write 1 6\n4 1 invoke read 1 -\n"
                    "5 1 ok read 1 6\n6 2 invoke read 1 -\n"
                    "7 2 ok read 1 5\n8 0 ok write 1 6\n";
    cr_assert_eq(reg(h), 1);
}

Test(register, unknown_write_may_apply_late_or_never)
{
    cr_assert_eq(reg("1 0 invoke write 1 7\n2 0 info write 1 7\n"
                     "3 1 invoke read 1 -\n4 1 ok read 1 nil\n"
                     "5 1 invoke read 1 -\n6 1 ok read 1 7\n"),
                 0);
    cr_assert_eq(reg("1 0 invoke write 1 7\n"
                     "3 1 invoke read 1 -\n4 1 ok read 1 7\n"),
                 0);
}

Test(register, failed_write_must_not_be_seen)
{
    cr_assert_eq(reg("1 0 invoke write 1 7\n2 0 fail write 1 7\n"
                     "3 1 invoke read 1 -\n4 1 ok read 1 7\n"),
                 1);
}

Test(register, cas)
{
    cr_assert_eq(reg("1 0 invoke write 1 1\n2 0 ok write 1 1\n"
                     "3 0 invoke cas 1 1,2\n4 0 ok cas 1 1,2\n"
                     "5 1 invoke read 1 -\n6 1 ok read 1 2\n"),
                 0);
    cr_assert_eq(reg("1 0 invoke write 1 1\n2 0 ok write 1 1\n"
                     "3 0 invoke cas 1 3,2\n4 0 ok cas 1 3,2\n"),
                 1);
}

Test(register, keys_are_independent)
{
    cr_assert_eq(reg("1 0 invoke write 1 1\n2 0 ok write 1 1\n"
                     "3 0 invoke write 2 2\n4 0 ok write 2 2\n"
                     "5 1 invoke read 2 -\n6 1 ok read 2 1\n"),
                 1);
}

Test(register, wide_concurrency_within_bound)
{
    char buf[8192] = "";
    int t = 1;
    for (int p = 0; p < 12; p++) {
        char l[64];
        snprintf(l, sizeof l, "%d %d invoke write 1 %d\n", t++, p, p);
        strcat(buf, l);
    }
    for (int p = 0; p < 12; p++) {
        char l[64];
        snprintf(l, sizeof l, "%d %d ok write 1 %d\n", t++, p, p);
        strcat(buf, l);
    }
    strcat(buf, "100 20 invoke read 1 -\n101 20 ok read 1 4\n");
    cr_assert_eq(reg(buf), 0);
    strcat(buf, "102 20 invoke read 1 -\n103 20 ok read 1 99\n");
    cr_assert_eq(reg(buf), 1);
}

/* A key past the search bound leaves the run undecided, but neither hides
 * an anomaly of another key nor stops the keys after it being checked. */
Test(register, an_undecided_key_does_not_hide_an_anomaly)
{
    char buf[8192] = "";
    int t = 1;
    for (int p = 0; p < 12; p++) { /* key 1: wide, then a bad read */
        char l[64];
        snprintf(l, sizeof l, "%d %d invoke write 1 %d\n", t++, p, p);
        strcat(buf, l);
    }
    strcat(buf, "50 20 invoke read 1 -\n51 20 ok read 1 99\n");
    for (int p = 0; p < 12; p++) {
        char l[64];
        snprintf(l, sizeof l, "%d %d ok write 1 %d\n", 60 + p, p, p);
        strcat(buf, l);
    }
    strcat(buf, "100 0 invoke write 2 5\n101 0 ok write 2 5\n" /* key 2 */
                "102 0 invoke write 2 6\n103 0 ok write 2 6\n"
                "104 1 invoke read 2 -\n105 1 ok read 2 5\n");
    struct faults_history h = load(buf);
    FILE *null = fopen("/dev/null", "w");
    cr_assert_eq(checkRegister(&h, 5000000, null), 2);
    cr_assert_eq(checkRegister(&h, 100, null), 1, "key 2 hidden");
    historyFree(&h);
    fclose(null);
}

static int run(const char *text, int which)
{
    struct faults_history h = load(text);
    FILE *null = fopen("/dev/null", "w");
    int rv = which == 0   ? checkBank(&h, 100, null)
             : which == 1 ? checkSet(&h, null)
                          : checkAppend(&h, null);
    fclose(null);
    historyFree(&h);
    return rv;
}

Test(bank, conserved_total)
{
    cr_assert_eq(run("1 0 invoke transfer 0 0,1,10\n2 0 ok transfer 0 0,1,10\n"
                     "3 1 invoke read 0 -\n4 1 ok read 0 40,60\n",
                     0),
                 0);
}

Test(bank, bad_total_and_negative)
{
    cr_assert_eq(run("3 1 invoke read 0 -\n4 1 ok read 0 40,70\n", 0), 1);
    cr_assert_eq(run("3 1 invoke read 0 -\n4 1 ok read 0 -10,110\n", 0), 1);
}

Test(set, good)
{
    cr_assert_eq(run("1 0 invoke add 0 1\n2 0 ok add 0 1\n"
                     "3 0 invoke add 0 2\n4 0 info add 0 2\n"
                     "5 1 invoke add 0 3\n6 1 fail add 0 3\n"
                     "7 0 invoke final 0 -\n8 0 ok final 0 1,2\n",
                     1),
                 0);
    cr_assert_eq(run("1 0 invoke add 0 1\n2 0 ok add 0 1\n"
                     "3 0 invoke add 0 2\n4 0 info add 0 2\n"
                     "7 0 invoke final 0 -\n8 0 ok final 0 1\n",
                     1),
                 0);
}

Test(set, lost_invented_and_missing_final)
{
    cr_assert_eq(run("1 0 invoke add 0 1\n2 0 ok add 0 1\n"
                     "7 0 invoke final 0 -\n8 0 ok final 0 -\n",
                     1),
                 1);
    cr_assert_eq(run("1 0 invoke add 0 1\n2 0 fail add 0 1\n"
                     "7 0 invoke final 0 -\n8 0 ok final 0 1,9\n",
                     1),
                 2);
    cr_assert_eq(run("1 0 invoke add 0 1\n2 0 ok add 0 1\n", 1), -1);
}

Test(append, serializable)
{
    cr_assert_eq(run("1 0 invoke txn 0 a:1:1;r:2:\n"
                     "2 0 ok txn 0 a:1:1;r:2:\n"
                     "3 1 invoke txn 0 r:1:;a:2:1\n"
                     "4 1 ok txn 0 r:1:1;a:2:1\n"
                     "5 0 invoke final 0 -\n"
                     "6 0 ok final 0 r:1:1;r:2:1\n",
                     2),
                 0);
}

Test(append, write_skew_cycle)
{
    /* T1 reads x empty, appends y; T2 reads y empty, appends x: each
     * read misses the other's append, a G2 cycle (rw both ways). */
    cr_assert_eq(run("1 0 invoke txn 0 r:1:;a:2:1\n"
                     "2 1 invoke txn 0 r:2:;a:1:1\n"
                     "3 0 ok txn 0 r:1:;a:2:1\n"
                     "4 1 ok txn 0 r:2:;a:1:1\n"
                     "5 0 invoke final 0 -\n"
                     "6 0 ok final 0 r:1:1;r:2:1\n",
                     2),
                 1);
}

Test(append, lost_duplicate_divergent_invented)
{
    cr_assert_eq(run("1 0 invoke txn 0 a:1:1\n2 0 ok txn 0 a:1:1\n"
                     "5 0 invoke final 0 -\n6 0 ok final 0 r:1:\n",
                     2),
                 1);
    cr_assert_eq(run("1 0 invoke txn 0 a:1:1\n2 0 ok txn 0 a:1:1\n"
                     "5 0 invoke final 0 -\n6 0 ok final 0 r:1:1,1\n",
                     2),
                 1);
    cr_assert(run("1 0 invoke txn 0 a:1:1\n2 0 ok txn 0 a:1:1\n"
                  "3 1 invoke txn 0 a:1:2\n4 1 ok txn 0 a:1:2\n"
                  "5 2 invoke txn 0 r:1:\n6 2 ok txn 0 r:1:2\n"
                  "7 0 invoke final 0 -\n8 0 ok final 0 r:1:1,2\n",
                  2) > 0);
    cr_assert_eq(run("5 0 invoke final 0 -\n6 0 ok final 0 r:1:3\n", 2), 1);
}

static int runaway(const char *text)
{
    struct faults_history h = load(text);
    FILE *null = fopen("/dev/null", "w");
    int rv = checkRunaway(&h, null);
    fclose(null);
    historyFree(&h);
    return rv;
}

Test(runaway, abandoned_statements_and_right_probes_are_valid)
{
    cr_assert_eq(runaway("1 0 invoke cte 0 -\n2 0 fail cte 0 -\n"
                         "3 0 invoke probe 7 -\n4 0 ok probe 7 7\n"
                         "5 0 invoke stream 0 -\n6 0 ok stream 0 -\n"
                         "7 0 invoke close 0 -\n8 0 fail close 0 sent\n"
                         "9 0 invoke probe 8 -\n10 0 fail probe 8 -\n"),
                 0);
}

Test(runaway, finished_runaway_and_leaked_answer_are_caught)
{
    cr_assert_eq(runaway("1 0 invoke sort 0 -\n2 0 ok sort 0 -\n"
                         "3 0 invoke probe 7 -\n4 0 ok probe 7 6\n"),
                 2);
}

/* Follower reads: times in ns; a bound of 1 ms with 0 slack. */
static int follower(const char *text)
{
    struct faults_history h = load(text);
    FILE *null = fopen("/dev/null", "w");
    int rv = checkFollower(&h, 0, 5000000, null);
    fclose(null);
    historyFree(&h);
    return rv;
}

Test(follower, bounded_read_within_its_bound_is_valid)
{
    /* Write 6 acknowledged 0.5 ms before the read: within 1 ms. */
    cr_assert_eq(follower("1000000 0 invoke write 1 5\n"
                          "2000000 0 ok write 1 5\n"
                          "3000000 0 invoke write 1 6\n"
                          "9500000 0 ok write 1 6\n"
                          "10000000 1 invoke bread 1 1\n"
                          "10100000 1 ok bread 1 5\n"),
                 0);
}

Test(follower, bounded_read_older_than_its_bound_is_caught)
{
    /* Write 6 acknowledged 5 ms before the read, bound 1 ms. */
    cr_assert_eq(follower("1000000 0 invoke write 1 5\n"
                          "2000000 0 ok write 1 5\n"
                          "3000000 0 invoke write 1 6\n"
                          "5000000 0 ok write 1 6\n"
                          "10000000 1 invoke bread 1 1\n"
                          "10100000 1 ok bread 1 5\n"),
                 1);
}

Test(follower, bounded_nil_read_after_an_old_write_is_caught)
{
    cr_assert_eq(follower("1000000 0 invoke write 1 5\n"
                          "2000000 0 ok write 1 5\n"
                          "10000000 1 invoke bread 1 1\n"
                          "10100000 1 ok bread 1 nil\n"),
                 1);
}

Test(follower, bounded_read_of_a_concurrent_write_is_valid)
{
    /* 5 and 6 overlap: either may be the newer. */
    cr_assert_eq(follower("1000000 0 invoke write 1 5\n"
                          "1000000 2 invoke write 1 6\n"
                          "2000000 2 ok write 1 6\n"
                          "3000000 0 ok write 1 5\n"
                          "10000000 1 invoke bread 1 1\n"
                          "10100000 1 ok bread 1 6\n"),
                 0);
}

Test(follower, linearizable_stale_read_is_caught)
{
    cr_assert_eq(follower("1 0 invoke write 1 5\n2 0 ok write 1 5\n"
                          "3 0 invoke write 1 6\n4 0 ok write 1 6\n"
                          "5 1 invoke read 1 -\n6 1 ok read 1 5\n"),
                 1);
}
