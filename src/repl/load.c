/*
 * Applying LOAD parts: a database streamed into the cluster as a sequence
 * of raft entries and installed atomically with the last one
 * (docs/restore.md).
 *
 * Each part is staged in the VFS under a reserved name (REPL_LOAD_PREFIX
 * target ':' id); snapshots therefore carry a load in progress like any
 * database, and a node that restarts or installs a snapshot mid-load goes
 * on with the next part. Every decision here depends only on the log (the
 * parts, their order, the terms of the entries), so every node reaches the
 * same one: a part that does not continue its stage, a target that exists
 * without FORCE, or a file that fails PRAGMA integrity_check drop the stage
 * on every node and change nothing else. A leader change drops every stage
 * of an earlier term (replLoadTerm): the whole load is lost, never half.
 *
 * The staging is not specific to loads: a multi-entry transaction (issue
 * 17) can stage its pages the same way and move them with its last entry.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/assert.h"
#include "lib/err.h"
#include "repl/command.h"
#include "repl/repl.h"

/* The file header of every SQLite database (fileformat.html §1.3). */
static const char replSqliteMagic[16] = "SQLite format 3";

void replLoadStageName(char *buf, size_t size, const char *target, uint64_t id)
{
    PRE(size >= REPL_LOAD_STAGE_NAME_SIZE);
    snprintf(buf, size, "%s%s:%016" PRIx64, REPL_LOAD_PREFIX, target, id);
}

/* Drops every stage of `target`, whatever its id. */
static void replLoadDropTarget(struct repl *r, const char *target)
{
    char prefix[REPL_LOAD_STAGE_NAME_SIZE];
    snprintf(prefix, sizeof prefix, "%s%s:", REPL_LOAD_PREFIX, target);
    vfsDropPrefix(r->vfs, prefix, NULL, NULL);
}

/* The id a stage name ends with (its last 16 hex digits). */
static uint64_t replLoadStageId(const char *name)
{
    const char *colon = strrchr(name, ':');
    return colon == NULL ? 0 : strtoull(colon + 1, NULL, 16);
}

static bool replLoadKeepTerm(const char *name, void *arg)
{
    return replLoadStageId(name) >= *(const uint64_t *)arg;
}

void replLoadTerm(struct repl *r, uint64_t term)
{
    if (term <= r->load_term) {
        return;
    }
    r->load_term = term;
    /* A new leader: loads begun in earlier terms cannot be finished (their
     * leader's session is gone); every node drops them at this entry. */
    unsigned n =
        vfsDropPrefix(r->vfs, REPL_LOAD_PREFIX, replLoadKeepTerm, &term);
    r->n_loads_dropped += n;
}

bool replLoadTargetExists(struct vfs *v, const char *name)
{
    uint32_t page_size;
    uint32_t n_pages = 0;
    return vfsDbInfo(v, name, &page_size, &n_pages) == 0 && n_pages > 1;
}

bool replLoadHeaderValid(const uint8_t *data, size_t len, uint32_t page_size)
{
    if (len < 100 || memcmp(data, replSqliteMagic, 16) != 0) {
        return false;
    }
    uint32_t ps = (uint32_t)data[16] << 8 | data[17];
    ps = ps == 1 ? 65536 : ps;
    return ps == page_size;
}

/* PRAGMA integrity_check on the staged database: 0 when it answers "ok". */
static int replLoadCheck(struct repl *r, const char *stage)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    int rc =
        sqlite3_open_v2(stage, &db, SQLITE_OPEN_READWRITE, vfsName(r->vfs));
    bool ok = false;
    if (rc == SQLITE_OK) {
        rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check(1)", -1, &stmt,
                                NULL);
    }
    if (rc == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW) {
        const unsigned char *text = sqlite3_column_text(stmt, 0);
        ok = text != NULL && strcmp((const char *)text, "ok") == 0;
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    if (rc == SQLITE_NOMEM) {
        return ERR_NOMEM;
    }
    return ok ? 0 : ERR_CORRUPT;
}

/* The last part: the stage is whole, the target may be replaced, the file
 * is a sound database. Outcome in *outcome; a failure of this node alone
 * (memory, a lock) is returned. */
static int replLoadFinish(struct repl *r, const char *target, const char *stage,
                          const struct repl_load_part *p, int *outcome)
{
    uint64_t staged = 0;
    if (vfsStageSize(r->vfs, stage, &staged) != 0 || staged != p->total) {
        *outcome = ERR_INVALID;
        return 0;
    }
    if (replLoadTargetExists(r->vfs, target) &&
        (p->flags & REPL_LOAD_FORCE) == 0) {
        *outcome = ERR_EXISTS;
        return 0;
    }
    int rv = replLoadCheck(r, stage);
    if (rv == ERR_CORRUPT) {
        *outcome = ERR_CORRUPT;
        return 0;
    }
    if (rv == 0) {
        rv = vfsStageMove(r->vfs, stage, target);
    }
    *outcome = rv;
    return rv;
}

static int replLoadStep(struct repl *r, uint64_t index, const char *target,
                        const struct repl_load_part *p, int *outcome)
{
    /* This entry again after ERR_BUSY from the move: its part is staged. */
    bool staged = r->load_staged_index == index;
    r->load_staged_index = 0;
    char stage[REPL_LOAD_STAGE_NAME_SIZE];
    replLoadStageName(stage, sizeof stage, target, p->id);
    if ((p->flags & REPL_LOAD_ABORT) != 0) {
        *outcome = ERR_CANCELED; /* its client went away: drop the stage */
        return 0;
    }
    if (p->offset == 0 && !staged) {
        /* A new load of `target` replaces any other in progress. */
        replLoadDropTarget(r, target);
        if (!replLoadHeaderValid(p->data, p->len, p->page_size)) {
            *outcome = ERR_CORRUPT; /* not a SQLite database */
            return 0;
        }
    }
    if (p->len > 0 && !staged) {
        int rv = vfsStageWrite(r->vfs, stage, p->page_size, p->offset, p->data,
                               p->len);
        if (rv == ERR_NOMEM || rv == ERR_BUSY) {
            return rv;
        }
        if (rv != 0) { /* not the continuation of this load's stage */
            *outcome = ERR_INVALID;
            return 0;
        }
    }
    *outcome = 0;
    if ((p->flags & REPL_LOAD_LAST) == 0) {
        return 0;
    }
    int rv = replLoadFinish(r, target, stage, p, outcome);
    if (rv == ERR_BUSY) {
        /* A connection of this node reads the target: the caller ends it
         * and applies this entry again (docs/restore.md). */
        r->load_staged_index = index;
    }
    return rv;
}

int replApplyLoad(struct repl *r, uint64_t index, const char *target,
                  const struct repl_load_part *p)
{
    PRE(r != NULL && target != NULL && p != NULL);
    int outcome = 0;
    int rv = replLoadStep(r, index, target, p, &outcome);
    if (rv != 0) {
        return rv; /* this node cannot apply it: nothing recorded */
    }
    if (outcome != 0) {
        /* Refused the same way on every node: the load ends here. */
        char stage[REPL_LOAD_STAGE_NAME_SIZE];
        replLoadStageName(stage, sizeof stage, target, p->id);
        vfsDropPrefix(r->vfs, stage, NULL, NULL);
    }
    ASSERT(outcome >= 0 && outcome < 256);
    atomic_store(&r->load_result, index << 8 | (uint64_t)outcome);
    return 0;
}

bool replLoadResult(struct repl *r, uint64_t index, int *rv)
{
    uint64_t v = atomic_load(&r->load_result);
    *rv = (int)(v & 0xff);
    return v >> 8 == index;
}
