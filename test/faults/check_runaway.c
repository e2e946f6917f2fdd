/*
 * The runaway workload's checker (ops_runaway.c): statements that never
 * end by themselves must never be acknowledged as finished (a "cte" or
 * "sort" ok), and the probe that follows each abandoned statement on the
 * same connection must get its own answer ("probe" ok whose value is not
 * its key: an answer of the interrupted request, or of the INTERRUPT,
 * leaked into it). Failed and unknown outcomes are expected under faults.
 */
#include <stdlib.h>
#include <string.h>

#include "checker.h"

int checkRunaway(const struct faults_history *h, FILE *report)
{
    int anomalies = 0;
    for (unsigned i = 0; i < h->n; i++) {
        const struct faults_event *e = &h->events[i];
        if (e->type != FAULTS_OK) {
            continue;
        }
        if (strcmp(e->f, "cte") == 0 || strcmp(e->f, "sort") == 0) {
            fprintf(report, "process %d: runaway %s acknowledged as done\n",
                    e->process, e->f);
            anomalies++;
        } else if (strcmp(e->f, "probe") == 0 &&
                   (e->value == NULL || atoll(e->value) != e->key)) {
            fprintf(report, "process %d: probe %lld answered %s\n", e->process,
                    (long long)e->key,
                    e->value != NULL ? e->value : "(nothing)");
            anomalies++;
        }
    }
    return anomalies;
}
