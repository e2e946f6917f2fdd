/*
 * The client-live tier's shared state and helpers: our C client
 * (dqlite_client.h) driven against a real 3-node cluster, ours (dqlited) or
 * the reference (Debian's dqlite-demo on libdqlite 1.11.1). This header owns
 * the run context (addresses and PIDs of the nodes the runner started), the
 * check macros (one [PASS]/[FAIL] line per test) and the small helpers the
 * test files share.
 */
#ifndef CLIENTLIVE_LIVE_H
#define CLIENTLIVE_LIVE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <dqlite_client.h>

#define LIVE_NODES 3
#define LIVE_ADDR_MAX 64
#define LIVE_REASON_MAX 1024
#define LIVE_LOG_MAX 256

/* One node started by the runner. */
struct live_node {
    char address[LIVE_ADDR_MAX];
    pid_t pid;
    uint64_t id; /* learnt from CLUSTER */
    bool alive;
};

/* What a custom dial function records and how it may lie. */
struct live_dial {
    unsigned n_dials;
    int last_timeout_ms;
    char misroute_to[LIVE_ADDR_MAX]; /* "" = dial the address asked */
};

/* What a log function collected. */
struct live_log {
    unsigned n_by_level[4];
    char last[LIVE_LOG_MAX];
    char all[2048];     /* the messages so far, "; "-separated, truncated */
    bool saw_interrupt; /* a message mentioned sending an interrupt */
};

struct live {
    const char *server; /* "ours" or "reference" */
    bool reference;
    const char *dir; /* scratch directory of the run */
    struct live_node nodes[LIVE_NODES];
    struct live_node extra; /* a 4th node for membership calls */
    /* The run's shared driver, on an in-memory store of the 3 nodes. */
    struct dqlite_server_store *store;
    struct dqlite_driver *driver;
    /* Results. */
    unsigned tested;
    unsigned passed;
    unsigned failed;
    const char *current;
    char reason[LIVE_REASON_MAX];
};

/* The run context, for the test files. */
extern struct live *ctx;

/* Fails the current test with a reason (printf format) and jumps to the
 * test function's `out:` label, where it frees what it holds. */
#define CHECK(cond, ...)                                      \
    do {                                                      \
        if (!(cond)) {                                        \
            liveFail(__FILE__, __LINE__, #cond, __VA_ARGS__); \
            goto out;                                         \
        }                                                     \
    } while (0)

/* A call expected to return `want`: the reason names the code and the
 * connection's message. */
#define CHECK_RC(conn, call, want)                                       \
    do {                                                                 \
        int rc_ = (call);                                                \
        CHECK(rc_ == (want), "%s returned %d (want %d): %s", #call, rc_, \
              (want), dqlite_conn_errmsg(conn));                         \
    } while (0)

#define CHECK_CL(client, call, want)                                     \
    do {                                                                 \
        int rc_ = (call);                                                \
        CHECK(rc_ == (want), "%s returned %d (want %d): %s", #call, rc_, \
              (want), dqlite_client_errmsg(client));                     \
    } while (0)

typedef void (*live_test_fn)(void);

/* util.c */
void liveFail(const char *file, int line, const char *cond, const char *fmt,
              ...) __attribute__((format(printf, 4, 5)));
void liveRun(const char *name, live_test_fn fn);
int64_t liveNowMs(void);
void liveSleepMs(unsigned ms);
int liveDial(void *arg, const char *address, int timeout_ms, int *fd);
void liveLog(void *arg, int level, const char *message);
int liveStoreOf(struct dqlite_server_store **store, const char *const *addrs,
                unsigned n);
int liveDriver(const char *const *addrs, unsigned n,
               const struct dqlite_driver_options *opts,
               struct dqlite_server_store **store,
               struct dqlite_driver **driver);
void liveDriverFree(struct dqlite_server_store *store,
                    struct dqlite_driver *driver);
int liveExec(struct dqlite_conn *conn, const char *sql);
int liveExecSetup(struct dqlite_conn *conn, const char *sql);
int liveQueryInt(struct dqlite_conn *conn, const char *sql, int64_t *out);

/* nodes.c */
int liveLeader(struct live_node **leader);
struct live_node *liveFollower(const struct live_node *leader);
struct live_node *liveNodeById(uint64_t id);
int liveWaitLeader(const struct live_node *except, unsigned timeout_ms,
                   struct live_node **leader);
int liveLearnIds(void);
void liveKill(struct live_node *node);
int liveFreePort(char *address);
/* A listening 127.0.0.1 socket on a free port (its address in `address`),
 * owned by the caller; -1 on failure. */
int liveListenSocket(char *address);
int liveBlackhole(char *address);

/* proxy.c */
int liveProxyDial(void *arg, const char *address, int timeout_ms, int *fd);
void liveProxyHold(unsigned ms);
void liveProxyGarble(void);
void liveProxyJoin(void);

/* The test groups (one file each). */
void liveSqlTests(void);
void liveRowsTests(void);
void liveStoreTests(void);
void liveDiscoveryTests(void);
void liveTxTests(void);
void liveErrorTests(void);
void liveStreamTests(void);
void liveRelayTests(void);
void liveMemberTests(void);
void liveLeaderChangeTests(void);
void liveClusterTests(void);
void liveFailoverTests(void);
void liveApiTests(void);

#endif /* CLIENTLIVE_LIVE_H */
