/*
 * dqlited --recover: quorum-loss recovery. On the stopped node's data
 * directory, replaces the cluster configuration with the one given on the
 * command line (dqlite_node_recover_ext), then exits; the next start of
 * the node runs in that configuration with every entry of its log kept.
 *
 * The list is "self" (a one-node cluster: this node, voter) or
 * comma-separated ID=ADDRESS[=ROLE] items (ROLE voter, standby or spare;
 * voter by default). It must name this node and at least one voter.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dqlite.h>

#include "dqlited.h"

/* Nodes a --recover list may name. */
#define RECOVER_MAX_NODES 64
/* Bytes of a --recover list. */
#define RECOVER_MAX_TEXT 8192

struct recover_list {
    char text[RECOVER_MAX_TEXT]; /* a copy, cut into the items */
    dqlite_node_info_ext infos[RECOVER_MAX_NODES];
    int n;
};

static int recoverRole(const char *text, uint64_t *role)
{
    static const char *const names[] = {"voter", "standby", "spare"};
    for (uint64_t i = 0; i < 3; i++) {
        if (strcmp(text, names[i]) == 0) {
            *role = i; /* DQLITE_VOTER, DQLITE_STANDBY, DQLITE_SPARE */
            return 0;
        }
    }
    if (strcmp(text, "stand-by") == 0) {
        *role = DQLITE_STANDBY;
        return 0;
    }
    return -1;
}

/* Parses one ID=ADDRESS[=ROLE] item (cut in place) into `info`. */
static int recoverItem(char *item, dqlite_node_info_ext *info)
{
    char *address = strchr(item, '=');
    char *role = address != NULL ? strrchr(address + 1, '=') : NULL;
    char *end;
    memset(info, 0, sizeof *info);
    info->size = sizeof *info;
    info->dqlite_role = DQLITE_VOTER;
    if (address == NULL) {
        return -1;
    }
    *address++ = '\0';
    if (role != NULL) {
        *role++ = '\0';
        if (recoverRole(role, &info->dqlite_role) != 0) {
            return -1;
        }
    }
    errno = 0;
    info->id = strtoull(item, &end, 10);
    if (item[0] == '\0' || item[0] == '-' || *end != '\0' || errno != 0 ||
        info->id == 0 || address[0] == '\0') {
        return -1;
    }
    info->address = (uint64_t)(uintptr_t)address;
    return 0;
}

/* Parses cfg->recover into `l`; reports a bad list (usage error). */
static int recoverParse(const struct config *cfg, struct recover_list *l)
{
    char *save = NULL;
    l->n = 0;
    if (strcmp(cfg->recover, "self") == 0) {
        snprintf(l->text, sizeof l->text, "%" PRIu64 "=%s", cfg->id,
                 cfg->address);
    } else if (snprintf(l->text, sizeof l->text, "%s", cfg->recover) >=
               (int)sizeof l->text) {
        fprintf(stderr, "dqlited: --recover: list too long\n");
        return -1;
    }
    for (char *item = strtok_r(l->text, ",", &save); item != NULL;
         item = strtok_r(NULL, ",", &save)) {
        if (l->n == RECOVER_MAX_NODES ||
            recoverItem(item, &l->infos[l->n]) != 0) {
            fprintf(stderr,
                    "dqlited: --recover: expected \"self\" or at most %d "
                    "ID=ADDRESS[=ROLE] items, got \"%s\"\n",
                    RECOVER_MAX_NODES, cfg->recover);
            return -1;
        }
        l->n++;
    }
    return 0;
}

/* Whether the list names this node, and no node twice. */
static int recoverCheck(const struct config *cfg, const struct recover_list *l)
{
    bool self = false;
    for (int i = 0; i < l->n; i++) {
        self = self || l->infos[i].id == cfg->id;
        for (int j = 0; j < i; j++) {
            if (l->infos[j].id == l->infos[i].id) {
                fprintf(stderr, "dqlited: --recover: node %" PRIu64 " twice\n",
                        l->infos[i].id);
                return -1;
            }
        }
    }
    if (!self) {
        fprintf(stderr,
                "dqlited: --recover: the list must name this node (%" PRIu64
                ")\n",
                cfg->id);
        return -1;
    }
    return 0;
}

static void recoverReport(const struct config *cfg,
                          const struct recover_list *l)
{
    static const char *const roles[] = {"voter", "standby", "spare"};
    printf("recovered node %" PRIu64 " in %s: the configuration is now",
           cfg->id, cfg->dir);
    for (int i = 0; i < l->n; i++) {
        printf(" %" PRIu64 "=%s=%s", l->infos[i].id,
               (const char *)(uintptr_t)l->infos[i].address,
               roles[l->infos[i].dqlite_role]);
    }
    printf("\n");
    fflush(stdout);
}

int recoverRun(const struct config *cfg)
{
    static struct recover_list list; /* large: not on the stack */
    dqlite_node *node = NULL;
    int rv;
    if (recoverParse(cfg, &list) != 0 || recoverCheck(cfg, &list) != 0) {
        return DQLITED_EXIT_USAGE;
    }
    rv = dqlite_node_create(cfg->id, cfg->address, cfg->dir, &node);
    if (rv == 0) {
        rv = dqlite_node_recover_ext(node, list.infos, list.n);
    }
    if (rv != 0) {
        logMsg(LOG_ERROR, "recover node %" PRIu64 ": %s", cfg->id,
               node != NULL ? dqlite_node_errmsg(node) : "cannot create");
        dqlite_node_destroy(node);
        return datadirExitCode(rv, DQLITED_EXIT_FAIL);
    }
    dqlite_node_destroy(node);
    recoverReport(cfg, &list);
    logMsg(LOG_INFO, "recovered: %d node(s) in the new configuration", list.n);
    return DQLITED_EXIT_OK;
}
