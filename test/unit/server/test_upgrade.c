/* A dqlite 1.11 data directory is converted in place at start (it used to
 * be ignored: a new empty cluster started beside it and every row was
 * gone). The fixtures are real directories written by Debian's libdqlite0
 * 1.11.1 (test/upgrade/mkfixtures.sh): each is converted, then replayed the
 * way the node does (snapshot restored, converted entries applied) and
 * every key is read back through SQLite. Also: a damaged file stops the
 * conversion with its name and nothing changed; a conversion interrupted
 * before or after its completion mark restarts or finishes. */
#include <criterion/criterion.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/byte.h"
#include "lib/err.h"
#include "raft/raft.h"
#include "raftio/legacy.h"
#include "raftio/log.h"
#include "raftio/meta.h"
#include "raftio/snapshot.h"
#include "repl/repl.h"
#include "server/replica_internal.h"
#include "vfs/vfs.h"
#include <dqlite.h>

static char tmp[64];

static void setup(void)
{
    strcpy(tmp, "/tmp/dqlite-upgrade-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(upgrade, .init = setup, .fini = teardown);

static void run(const char *fmt, const char *a, const char *b)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, fmt, a, b);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
}

/* Unpacks fixture `name` into tmp; returns its key count. */
static int unpack(const char *name)
{
    char path[256];
    const char *dir = getenv("DQLITE_UPGRADE_FIXTURES");
    snprintf(path, sizeof path, "%s/%s.tar.xz",
             dir != NULL ? dir : "test/upgrade/fixtures", name);
    run("tar -C %s -xJf %s", tmp, path);
    snprintf(path, sizeof path, "%s/%s/keys", tmp, name);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    int keys = 0;
    cr_assert_eq(fscanf(f, "%d", &keys), 1);
    fclose(f);
    return keys;
}

static void nodeDir(char *out, size_t len, const char *name, int node)
{
    snprintf(out, len, "%s/%s/n%d", tmp, name, node);
}

static int convert(const char *dir, char *errmsg, size_t len)
{
    errmsg[0] = '\0';
    return serverUpgradeDir(dir, NULL, NULL, errmsg, len);
}

static bool exists(const char *dir, const char *name)
{
    char path[1024];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

/* What a converted directory replays to. */
struct replayed {
    uint64_t term;
    uint64_t snap_index; /* 0: none */
    uint64_t first_index, last_index;
    struct raft_configuration conf; /* the newest one */
    int rows;                       /* rows of demo's table model */
    int bad_values;                 /* rows whose value is not v<key> */
};

static void replayEntries(struct repl *repl, struct replayed *out,
                          const struct raftio_loaded *l)
{
    for (size_t i = 0; i < l->n_entries; i++) {
        const struct raft_entry *e = &l->entries[i];
        uint64_t index = l->first_index + i;
        if (e->type == RAFT_COMMAND) {
            int rv = replApply(repl, index, e->data, e->len);
            cr_assert_eq(rv, 0, "apply %llu: %s", (unsigned long long)index,
                         errString(rv));
        } else if (e->type == RAFT_CHANGE) {
            raftConfClose(&out->conf);
            cr_assert_eq(raftConfDecode(e->data, e->len, &out->conf), 0);
        }
    }
    out->first_index = l->first_index;
    out->last_index = l->first_index + l->n_entries - 1;
}

static void countRows(struct vfs *v, struct replayed *out)
{
    sqlite3 *db;
    sqlite3_stmt *stmt;
    cr_assert_eq(
        sqlite3_open_v2("demo", &db, SQLITE_OPEN_READWRITE, vfsName(v)),
        SQLITE_OK);
    cr_assert_eq(
        sqlite3_prepare_v2(db, "SELECT key, value FROM model", -1, &stmt, NULL),
        SQLITE_OK, "%s", sqlite3_errmsg(db));
    while (sqlite3_step(stmt) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(stmt, 0);
        const char *val = (const char *)sqlite3_column_text(stmt, 1);
        out->rows++;
        out->bad_values +=
            k[0] != 'k' || val[0] != 'v' || strcmp(k + 1, val + 1) != 0;
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
}

static void replay(const char *dir, struct replayed *out)
{
    static int n_vfs;
    char vfs_name[32];
    struct raftio_fs fs;
    struct raft_snapshot_meta snap;
    struct raftio_log log;
    struct raftio_loaded loaded;
    struct vfs *v;
    struct repl repl;
    uint8_t *data;
    size_t len;
    uint64_t vote;
    memset(out, 0, sizeof *out);
    raftConfInit(&out->conf);
    snprintf(vfs_name, sizeof vfs_name, "upgrade-%d", n_vfs++);
    cr_assert_eq(vfsCreate(vfs_name, &v), 0);
    replInit(&repl, v);
    cr_assert_eq(raftioFsPosixInit(&fs, dir), 0);
    cr_assert_eq(raftioMetaLoad(&fs, &out->term, &vote), 0);
    if (raftioSnapshotLoad(&fs, &snap, &data, &len) == 0) {
        out->snap_index = snap.index;
        cr_assert_eq(replSnapshotRestore(&repl, data, len), 0);
        repl.applied_index = snap.index;
        raftConfClose(&out->conf);
        cr_assert_eq(raftConfCopy(&snap.conf, &out->conf), 0);
        raftSnapshotMetaClose(&snap);
        libFree(data);
    }
    cr_assert_eq(raftioLogOpen(&log, &fs, NULL, &loaded), 0);
    replayEntries(&repl, out, &loaded);
    raftioLoadedFree(&loaded);
    raftioLogClose(&log);
    fs.destroy(&fs);
    countRows(v, out);
    vfsDestroy(v);
}

/* The fixture's addresses, split (at most 3). */
static int addrs(const char *name, char out[3][64])
{
    char path[256];
    char line[256];
    snprintf(path, sizeof path, "%s/%s/addrs", tmp, name);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(line, sizeof line, f));
    fclose(f);
    line[strcspn(line, "\n")] = '\0';
    int n = 0;
    for (char *s = strtok(line, ","); s != NULL && n < 3;
         s = strtok(NULL, ",")) {
        snprintf(out[n++], 64, "%s", s);
    }
    return n;
}

static void assertVoters(const struct raft_configuration *c, const char *name)
{
    char a[3][64];
    int n = addrs(name, a);
    cr_assert_eq(c->n, (unsigned)n);
    for (int i = 0; i < n; i++) {
        bool found = false;
        for (unsigned j = 0; j < c->n; j++) {
            found |= strcmp(c->servers[j].address, a[i]) == 0 &&
                     c->servers[j].role == RAFT_VOTER;
        }
        cr_assert(found, "%s is not a voter of the converted configuration",
                  a[i]);
    }
}

static void assertConverted(const char *dir)
{
    char backup[512];
    cr_assert(exists(dir, META_FILE));
    cr_assert(!exists(dir, "metadata1"));
    cr_assert(!exists(dir, LEGACY_STAGING_DIR));
    cr_assert(!exists(dir, LEGACY_DONE_DIR));
    snprintf(backup, sizeof backup, "%s/%s", dir, LEGACY_BACKUP_DIR);
    cr_assert(exists(backup, "metadata1"), "the 1.11 files are kept");
    cr_assert(exists(dir, "info.yaml"), "go-dqlite's files stay");
}

Test(upgrade, open_segments_without_snapshot)
{
    char dir[256], errmsg[512];
    struct replayed r;
    int keys = unpack("one-open");
    nodeDir(dir, sizeof dir, "one-open", 1);
    cr_assert_eq(convert(dir, errmsg, sizeof errmsg), 0, "%s", errmsg);
    assertConverted(dir);
    cr_assert(exists(dir, LEGACY_BACKUP_DIR "/open-1"));
    replay(dir, &r);
    cr_assert_eq(r.snap_index, 0);
    cr_assert_eq(r.first_index, 1);
    cr_assert_geq(r.term, 1);
    cr_assert_eq(r.rows, keys, "%d rows of %d", r.rows, keys);
    cr_assert_eq(r.bad_values, 0);
    assertVoters(&r.conf, "one-open");
    raftConfClose(&r.conf);
}

Test(upgrade, snapshots_closed_and_open_segments)
{
    char dir[256], errmsg[512];
    struct replayed r;
    int keys = unpack("one-snap");
    nodeDir(dir, sizeof dir, "one-snap", 1);
    cr_assert_eq(convert(dir, errmsg, sizeof errmsg), 0, "%s", errmsg);
    assertConverted(dir);
    replay(dir, &r);
    cr_assert_eq(r.snap_index, 48, "the newest 1.11 snapshot");
    cr_assert_eq(r.first_index, 49, "the log starts after the snapshot");
    cr_assert_eq(r.rows, keys, "%d rows of %d", r.rows, keys);
    cr_assert_eq(r.bad_values, 0);
    assertVoters(&r.conf, "one-snap");
    raftConfClose(&r.conf);
}

Test(upgrade, three_nodes_each_converted)
{
    char dir[256], errmsg[512];
    struct replayed r;
    int keys = unpack("three");
    for (int i = 1; i <= 3; i++) {
        nodeDir(dir, sizeof dir, "three", i);
        cr_assert_eq(convert(dir, errmsg, sizeof errmsg), 0, "%s", errmsg);
        assertConverted(dir);
        replay(dir, &r);
        cr_assert_gt(r.snap_index, 0);
        cr_assert_eq(r.bad_values, 0);
        /* the leader (n1) has every row; a follower what it had received */
        cr_assert(i == 1 ? r.rows == keys : r.rows <= keys, "n%d: %d rows", i,
                  r.rows);
        assertVoters(&r.conf, "three");
        raftConfClose(&r.conf);
    }
}

Test(upgrade, converted_once)
{
    char dir[256], errmsg[512];
    struct replayed r1, r2;
    unpack("one-snap");
    nodeDir(dir, sizeof dir, "one-snap", 1);
    cr_assert_eq(convert(dir, errmsg, sizeof errmsg), 0, "%s", errmsg);
    replay(dir, &r1);
    cr_assert_eq(convert(dir, errmsg, sizeof errmsg), 0, "%s", errmsg);
    replay(dir, &r2);
    cr_assert_eq(r1.rows, r2.rows);
    cr_assert_eq(r1.last_index, r2.last_index);
    raftConfClose(&r1.conf);
    raftConfClose(&r2.conf);
}

/* md5 of every file under `dir` into `out` (for "nothing changed"). */
static void digest(const char *dir, char *out, size_t len)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "cd %s && find . -type f | sort | xargs md5sum | md5sum", dir);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    cr_assert_not_null(fgets(out, (int)len, p));
    pclose(p);
}

/* Converting `dir` fails naming `file`, and changes nothing. */
static void assertRefused(const char *dir, const char *file)
{
    char before[128], after[128], errmsg[512];
    digest(dir, before, sizeof before);
    int rv = convert(dir, errmsg, sizeof errmsg);
    cr_assert_neq(rv, 0, "converted anyway");
    cr_assert_not_null(strstr(errmsg, file), "message: %s", errmsg);
    digest(dir, after, sizeof after);
    cr_assert_str_eq(before, after, "the 1.11 files changed");
    cr_assert(!exists(dir, LEGACY_STAGING_DIR));
    cr_assert(!exists(dir, LEGACY_BACKUP_DIR));
    cr_assert(!exists(dir, META_FILE));
}

static void flipByte(const char *dir, const char *file, long offset)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    cr_assert_eq(fseek(f, offset, SEEK_SET), 0);
    int c = fgetc(f);
    cr_assert_eq(fseek(f, offset, SEEK_SET), 0);
    fputc(c ^ 0x40, f);
    fclose(f);
}

Test(upgrade, damaged_closed_segment_refused)
{
    char dir[256];
    unpack("one-snap");
    nodeDir(dir, sizeof dir, "one-snap", 1);
    flipByte(dir, "0000000000000033-0000000000000048", 4000);
    assertRefused(dir, "0000000000000033-0000000000000048");
}

Test(upgrade, damaged_snapshot_refused)
{
    char dir[256], name[512];
    unpack("one-snap");
    nodeDir(dir, sizeof dir, "one-snap", 1);
    FILE *p;
    snprintf(name, sizeof name, "cd %s && ls snapshot-1-48-*.meta", dir);
    cr_assert_not_null(p = popen(name, "r"));
    cr_assert_not_null(fgets(name, sizeof name, p));
    pclose(p);
    name[strcspn(name, "\n")] = '\0';
    flipByte(dir, name, 40);
    assertRefused(dir, name);
}

Test(upgrade, our_files_beside_refused)
{
    char dir[256];
    unpack("one-open");
    nodeDir(dir, sizeof dir, "one-open", 1);
    run("touch %s/%s", dir, "seg-00000000000000000001");
    char errmsg[512];
    cr_assert_eq(convert(dir, errmsg, sizeof errmsg), ERR_EXISTS);
    cr_assert_not_null(strstr(errmsg, "seg-00000000000000000001"), "%s",
                       errmsg);
    cr_assert(exists(dir, "metadata1") && !exists(dir, LEGACY_BACKUP_DIR));
}

Test(upgrade, interrupted_before_the_mark_restarts)
{
    char dir[256], errmsg[512];
    struct replayed r;
    int keys = unpack("one-open");
    nodeDir(dir, sizeof dir, "one-open", 1);
    run("mkdir %s/%s", dir, LEGACY_STAGING_DIR);
    run("echo junk > %s/%s/seg-00000000000000000007", dir, LEGACY_STAGING_DIR);
    cr_assert_eq(convert(dir, errmsg, sizeof errmsg), 0, "%s", errmsg);
    assertConverted(dir);
    replay(dir, &r);
    cr_assert_eq(r.rows, keys);
    raftConfClose(&r.conf);
}

/* A crash after the mark, with the moves half done: the next start
 * finishes them. */
Test(upgrade, interrupted_after_the_mark_finishes)
{
    char a[256], b[512], errmsg[512];
    struct replayed ra, rb;
    unpack("one-snap");
    nodeDir(a, sizeof a, "one-snap", 1);
    snprintf(b, sizeof b, "%s/b", tmp);
    run("cp -a %s %s", a, b);
    cr_assert_eq(convert(a, errmsg, sizeof errmsg), 0, "%s", errmsg);
    replay(a, &ra);
    run("mkdir %s/%s", b, LEGACY_DONE_DIR);
    run("cd %s && cp -a metadata seg-* snap-* %s/" LEGACY_DONE_DIR, a, b);
    run("cd %s && mkdir " LEGACY_BACKUP_DIR " && mv metadata1 %s", b,
        LEGACY_BACKUP_DIR "/");
    run("mv %s/" LEGACY_DONE_DIR "/metadata %s/", b, b);
    char path[600];
    snprintf(path, sizeof path, "%s/%s", b, LEGACY_DONE_DIR);
    cr_assert(exists(path, "seg-00000000000000000049"));
    cr_assert_eq(convert(b, errmsg, sizeof errmsg), 0, "%s", errmsg);
    assertConverted(b);
    replay(b, &rb);
    cr_assert_eq(rb.rows, ra.rows);
    cr_assert_eq(rb.last_index, ra.last_index);
    raftConfClose(&ra.conf);
    raftConfClose(&rb.conf);
}

/* dqlite_node_recover on a 1.11 directory converts it first (it used to
 * write our log beside the 1.11 files, which the next start would refuse),
 * then appends the new configuration after the converted log. */
Test(upgrade, recover_converts_first)
{
    char dir[256];
    struct replayed before, after;
    int keys = unpack("one-open");
    nodeDir(dir, sizeof dir, "one-open", 1);
    char copy[300];
    snprintf(copy, sizeof copy, "%s/copy", tmp);
    run("cp -a %s %s", dir, copy);
    char errmsg[512];
    cr_assert_eq(convert(copy, errmsg, sizeof errmsg), 0, "%s", errmsg);
    replay(copy, &before);
    dqlite_node *n;
    cr_assert_eq(dqlite_node_create(7, "127.0.0.1:9007", dir, &n), 0);
    dqlite_node_info info = {7, "127.0.0.1:9007"};
    cr_assert_eq(dqlite_node_recover(n, &info, 1), 0, "%s",
                 dqlite_node_errmsg(n));
    dqlite_node_destroy(n);
    assertConverted(dir);
    replay(dir, &after);
    cr_assert_eq(after.rows, keys);
    cr_assert_eq(after.last_index, before.last_index + 1);
    cr_assert(after.conf.n == 1 && after.conf.servers[0].id == 7);
    raftConfClose(&before.conf);
    raftConfClose(&after.conf);
}

/* Rewrites the page size of the `which`-th FRAMES command of segment
 * `file` to 512 and fixes its batch's checksum: the command still decodes,
 * but its pages do not fit the database. */
static void patchFramesPageSize(const char *dir, const char *file, int which)
{
    char path[512];
    uint8_t *p;
    size_t n;
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    n = (size_t)ftell(f);
    p = malloc(n);
    fseek(f, 0, SEEK_SET);
    cr_assert_eq(fread(p, 1, n, f), n);
    size_t off = 8;
    int seen = 0;
    while (off + 16 <= n && seen <= which) {
        uint64_t count = byteGet64(p + off + 8);
        if (count == 0) {
            break;
        }
        size_t data = off + 16 + 16 * count, cur = data, end = data;
        for (uint64_t i = 0; i < count; i++) {
            end += byteGet32(p + off + 16 + 16 * i + 12);
        }
        for (uint64_t i = 0; i < count; i++) {
            uint8_t type = p[off + 16 + 16 * i + 8];
            uint8_t *cmd = p + cur;
            if (type == RAFT_COMMAND && cmd[1] == 2 && seen++ == which) {
                size_t name = bytePad8(strlen((char *)cmd + 8) + 1);
                bytePut16(cmd + 8 + name + 20, 512);
            }
            cur += byteGet32(p + off + 16 + 16 * i + 12);
        }
        bytePut32(p + off + 4, legacyCrc32(p + data, end - data, 0));
        off = end;
    }
    cr_assert_gt(seen, which, "no FRAMES %d in %s", which, file);
    fseek(f, 0, SEEK_SET);
    cr_assert_eq(fwrite(p, 1, n, f), n);
    fclose(f);
    free(p);
}

Test(upgrade, command_that_does_not_apply_refused)
{
    char dir[256];
    unpack("one-open");
    nodeDir(dir, sizeof dir, "one-open", 1);
    patchFramesPageSize(dir, "open-1", 1);
    assertRefused(dir, "open-1");
}

/* SIGKILL at 24 points spread over a conversion (before, around and after
 * the mark): the next start always ends converted with every row. */
Test(upgrade, killed_anywhere_then_restarted)
{
    char dir[256], work[300], errmsg[512];
    struct replayed r;
    int keys = unpack("one-snap");
    nodeDir(dir, sizeof dir, "one-snap", 1);
    snprintf(work, sizeof work, "%s/work", tmp);
    struct timespec t0, t1;
    run("cp -a %s %s", dir, work);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cr_assert_eq(convert(work, errmsg, sizeof errmsg), 0, "%s", errmsg);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long total_us = (t1.tv_sec - t0.tv_sec) * 1000000L +
                    (t1.tv_nsec - t0.tv_nsec) / 1000 + 1;
    int n_killed = 0;
    int n_cut = 0; /* + 1 per cut before the mark, + 100 per cut after */
    for (int i = 0; i < 24; i++) {
        run("rm -rf %s%s", work, "");
        run("cp -a %s %s", dir, work);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            char child_err[512];
            _exit(serverUpgradeDir(work, NULL, NULL, child_err,
                                   sizeof child_err) == 0
                      ? 0
                      : 1);
        }
        usleep((useconds_t)(total_us * i / 20));
        n_killed += kill(pid, SIGKILL) == 0;
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFSIGNALED(status) || WEXITSTATUS(status) == 0);
        if (WIFSIGNALED(status)) {
            n_cut += exists(work, LEGACY_STAGING_DIR) ? 1 : 0;
            n_cut += exists(work, LEGACY_DONE_DIR) ? 100 : 0;
        }
        cr_assert_eq(convert(work, errmsg, sizeof errmsg), 0, "%d: %s", i,
                     errmsg);
        assertConverted(work);
        replay(work, &r);
        cr_assert_eq(r.rows, keys, "killed at %d/20: %d rows", i, r.rows);
        raftConfClose(&r.conf);
    }
    cr_assert_gt(n_killed, 0);
    fprintf(stderr,
            "[upgrade] conversion %ld us; SIGKILLs that cut it: %d before the "
            "mark, %d after\n",
            total_us, n_cut % 100, n_cut / 100);
}
