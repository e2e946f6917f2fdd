/*
 * faults-check: runs one checker over a history file and exits 0 when it
 * holds no anomaly, 1 when it does, 2 when it cannot decide; the harness
 * (run.sh) calls it once per workload.
 *   faults-check register|follower|bank|set|append|runaway HISTORY [TOTAL]
 * DQF_BOUND_SLACK_MS: the follower checker's clock slack (default 50).
 * DQF_MAX_STATES bounds the register search per key (default 2,000,000:
 * a few seconds and a few hundred MB at most); past it the key, and the
 * run, is undecided.
 */
#include <stdlib.h>
#include <string.h>

#include "checker.h"

static int checkOne(const char *workload, const struct faults_history *h,
                    long long total)
{
    if (strcmp(workload, "register") == 0) {
        const char *max = getenv("DQF_MAX_STATES");
        return checkRegister(h, max != NULL ? strtoul(max, NULL, 10) : 2000000,
                             stdout);
    }
    if (strcmp(workload, "follower") == 0) {
        const char *max = getenv("DQF_MAX_STATES");
        const char *slack = getenv("DQF_BOUND_SLACK_MS");
        return checkFollower(h, slack != NULL ? atoll(slack) : 50,
                             max != NULL ? strtoul(max, NULL, 10) : 2000000,
                             stdout);
    }
    if (strcmp(workload, "bank") == 0) {
        return checkBank(h, total, stdout);
    }
    if (strcmp(workload, "set") == 0) {
        return checkSet(h, stdout);
    }
    if (strcmp(workload, "append") == 0) {
        return checkAppend(h, stdout);
    }
    if (strcmp(workload, "runaway") == 0) {
        return checkRunaway(h, stdout);
    }
    return -1;
}

int main(int argc, char **argv)
{
    struct faults_history h;
    if (argc < 3) {
        fprintf(stderr, "usage: faults-check WORKLOAD HISTORY [TOTAL]\n");
        return 2;
    }
    historyInit(&h);
    if (historyRead(&h, argv[2]) != 0) {
        return 2;
    }
    int rv = checkOne(argv[1], &h, argc > 3 ? atoll(argv[3]) : 0);
    if (rv > 0) {
        printf("%s: %u events, ANOMALIES: %d\n", argv[1], h.n, rv);
    } else {
        printf("%s: %u events, %s\n", argv[1], h.n,
               rv == 0 ? "valid" : "UNDECIDED");
    }
    historyFree(&h);
    return rv == 0 ? 0 : rv < 0 ? 2 : 1;
}
