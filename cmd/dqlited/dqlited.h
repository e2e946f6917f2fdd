/*
 * dqlited: the pieces of the node daemon shared between its files: the
 * configuration parsed from the command line, the exit codes, logging, the
 * data-directory ownership check, joining a cluster and quorum-loss
 * recovery. The daemon uses the
 * library like any program: public headers only (dqlite.h for the node,
 * dqlite_client.h to join).
 */
#ifndef DQLITED_H
#define DQLITED_H

#include <stdbool.h>
#include <stdint.h>

/* Exit codes (also in the --help text). */
#define DQLITED_EXIT_OK 0           /* stopped by SIGTERM/SIGINT, cleanly */
#define DQLITED_EXIT_FAIL 1         /* the node failed (create, bind, start) */
#define DQLITED_EXIT_USAGE 2        /* bad command line */
#define DQLITED_EXIT_DATADIR 3      /* data directory refused */
#define DQLITED_EXIT_JOIN 4         /* could not join the cluster */
#define DQLITED_EXIT_STOP 5         /* stopping the node failed */
#define DQLITED_EXIT_STOP_TIMEOUT 6 /* the stop overran: forced exit */
#define DQLITED_EXIT_INUSE 12       /* another node holds the data directory */
#define DQLITED_EXIT_REMOVED 13     /* this node was removed from the cluster */
#define DQLITED_EXIT_BROKEN 15      /* the node stopped serving (disk, state) */

/* Log levels, lowest first. */
enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

struct config {
    uint64_t id;                 /* 0 = not given */
    const char *address;         /* advertised to peers and clients */
    const char *bind;            /* NULL = bind `address` */
    const char *dir;             /* data directory */
    const char *join;            /* comma-separated addresses, or NULL */
    int role;                    /* DQLITE_VOTER/STANDBY/SPARE, for --join */
    int log_level;               /* LOG_* */
    unsigned latency_ms;         /* 0 = the library's default */
    bool read_lease_set;         /* --read-lease given */
    bool read_lease;             /* its value */
    uint64_t failure_domain;     /* reported by DESCRIBE */
    bool failure_domain_set;     /* --failure-domain given */
    unsigned snapshot_threshold; /* 0 = the library's default */
    unsigned snapshot_trailing;  /* 0 = the library's default */
    unsigned
        join_timeout_s; /* how long to keep trying to join (0: until stopped) */
    const char *recover;           /* --recover LIST, or NULL */
    unsigned auto_voters;          /* --voters: automatic roles, 0 = off */
    unsigned auto_standbys;        /* --standbys */
    unsigned statement_timeout_ms; /* --statement-timeout */
    bool statement_timeout_set;
    /* --idle-timeout, --stall-timeout, --client-memory (dqlite.h's
     * dqlite_node_set_client_limits; its defaults until one is given). */
    bool client_limits_set;
    unsigned idle_timeout_s;
    unsigned stall_timeout_s;
    uint64_t client_memory_mib;
    bool entry_cache_set; /* --entry-cache (dqlite_node_set_entry_cache) */
    uint64_t entry_cache_mib;
    /* --tls-cert, --tls-key, --tls-ca (all or none), --tls-client-auth,
     * --tls-admin-auth, --tls12, --tls-handshake-timeout (dqlite.h's
     * dqlite_node_set_tls). */
    const char *tls_cert;
    const char *tls_key;
    const char *tls_ca;
    unsigned tls_flags;                /* DQLITE_TLS_* */
    unsigned tls_handshake_timeout_ms; /* 0: the library's default */
    const char *http;      /* --http HOST:PORT: metrics, health, rqlite API */
    const char *http_auth; /* --http-auth FILE: rqlite's auth.json */
    int log_format;        /* LOG_FORMAT_* (--log-format) */
    const char *config;    /* --config FILE, or NULL */
    bool log_level_fixed; /* --log-level on the command line: SIGHUP keeps it */
};

/* --log-format: "TIMESTAMP LEVEL message" lines, or one JSON object per
 * line ({"time", "level", "msg"}) for log collectors. */
enum { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

/* The configuration file read when --config is not given (if it exists),
 * and the prefix of the environment variables that set options
 * (DQLITED_LOG_LEVEL=debug is --log-level debug). */
#define DQLITED_CONFIG_DEFAULT "/etc/dqlited.conf"
#define DQLITED_ENV_PREFIX "DQLITED_"

/* Parses argv into *cfg. Returns -1 to continue, or an exit code (0 after
 * --help or --version, DQLITED_EXIT_USAGE after a message on stderr). */
int optionsParse(int argc, char *argv[], struct config *cfg);

/* config.c: the option table (options.c), whether argv names an option,
 * and the arguments of the configuration file and the environment placed
 * before argv's (kept for the process' lifetime). 0, or -1 after a
 * message. */
struct option;
const struct option *optionsTable(void);
bool commandLineHas(int argc, char *argv[], const char *name, char short_opt);
int sourcesCollect(int argc, char *argv[], struct config *cfg, char ***args,
                   int *n_args);

/* SIGHUP: the log level the configuration file and the environment give
 * now (the command line's, if it gave one). 0, or -1 after a message. */
int optionsReloadLevel(const struct config *cfg, int *level);

/* Logging to stderr, with a UTC timestamp and the level. */
void logSetLevel(int level);
void logSetFormat(int format);
void logMsg(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Checks that cfg->dir may be used by this node and settles cfg->id: reads
 * the directory's node-id file (or picks an id at first start if none was
 * given; the library writes the file once the node has started, and
 * refuses a directory whose file names another node). Sets *fresh when
 * the directory holds no node state yet. Returns 0, or DQLITED_EXIT_DATADIR
 * (or DQLITED_EXIT_USAGE for --id 1 with --join on an empty directory)
 * after logging why. */
int datadirClaim(struct config *cfg, bool *fresh);

/* The exit code for a failed dqlite_node_* call's return value:
 * DQLITED_EXIT_DATADIR for another node's directory, DQLITED_EXIT_INUSE
 * for a locked one, else `otherwise`. */
int datadirExitCode(int rv, int otherwise);

/* Asks the cluster reached through cfg->join to add this node with
 * cfg->role, retrying until cfg->join_timeout_s; a node already in the
 * configuration is left as it is. Returns early with 1 if a stop signal
 * arrives (*stop is then set). Returns 0 or DQLITED_EXIT_JOIN. */
int joinCluster(const struct config *cfg, bool *stop);

/* --recover: rewrites the configuration of the node in cfg->dir (claimed,
 * not fresh) to cfg->recover and returns the exit code. */
int recoverRun(const struct config *cfg);

/* Waits up to timeout_ms for SIGTERM or SIGINT (blocked by main): returns
 * the signal number, or 0 on timeout. timeout_ms < 0 waits forever. */
int signalWait(int timeout_ms);

#endif /* DQLITED_H */
