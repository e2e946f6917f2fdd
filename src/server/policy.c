/*
 * The SQL policy of a replicated database (see policy.h and
 * docs/sql-policy.md): connection settings, limits, and the authorizer.
 *
 * The authorizer runs while SQLite prepares a statement (and while a
 * running VACUUM prepares its own), so a refused statement never starts.
 * Pragmas are matched against a complete table of SQLite 3.40's pragmas:
 * one the table does not know is refused, so a pragma added by a later
 * SQLite is refused until someone decides about it.
 */
#include "server/policy.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/assert.h"

/* ------------------------------------------------------------ pragmas */

enum pragma_rule {
    PRAGMA_ALLOW, /* any form */
    PRAGMA_READ,  /* reading allowed; setting only to one of `values` */
    PRAGMA_DENY,  /* refused in any form */
};

struct pragma_policy {
    const char *name;
    enum pragma_rule rule;
    const char *values; /* PRAGMA_READ: the values a set may name, '|'
                         * separated, or NULL: none */
    const char *why;
};

#define ALLOW(n)                    \
    {                               \
        n, PRAGMA_ALLOW, NULL, NULL \
    }

static const struct pragma_policy pragmas[] = {
    ALLOW("analysis_limit"),
    ALLOW("application_id"),
    ALLOW("auto_vacuum"),
    ALLOW("automatic_index"),
    {"busy_timeout", PRAGMA_READ, NULL,
     "the node queues writers itself (dqlite_node_set_busy_timeout); "
     "SQLite's busy handler would sleep holding the node's SQLite lock"},
    ALLOW("cache_size"),
    ALLOW("cache_spill"),
    ALLOW("case_sensitive_like"),
    ALLOW("cell_size_check"),
    ALLOW("checkpoint_fullfsync"),
    ALLOW("collation_list"),
    ALLOW("compile_options"),
    ALLOW("count_changes"),
    {"data_store_directory", PRAGMA_DENY, NULL,
     "a process-wide setting naming host directories"},
    ALLOW("data_version"),
    ALLOW("database_list"),
    ALLOW("default_cache_size"),
    ALLOW("defer_foreign_keys"),
    ALLOW("empty_result_callbacks"),
    {"encoding", PRAGMA_READ, "utf-8|utf8",
     "databases are UTF-8: a UTF-16 database became unreadable on every "
     "node"},
    ALLOW("foreign_key_check"),
    ALLOW("foreign_key_list"),
    ALLOW("foreign_keys"),
    ALLOW("freelist_count"),
    ALLOW("full_column_names"),
    ALLOW("fullfsync"),
    ALLOW("function_list"),
    {"hard_heap_limit", PRAGMA_READ, NULL,
     "a process-wide memory limit shared by every client of the node"},
    ALLOW("ignore_check_constraints"),
    ALLOW("incremental_vacuum"),
    ALLOW("index_info"),
    ALLOW("index_list"),
    ALLOW("index_xinfo"),
    ALLOW("integrity_check"),
    {"journal_mode", PRAGMA_READ, "wal",
     "replication captures the write-ahead log: the journal mode is WAL"},
    ALLOW("journal_size_limit"),
    ALLOW("legacy_alter_table"),
    ALLOW("legacy_file_format"),
    {"lock_proxy_file", PRAGMA_DENY, NULL, "a file-level setting"},
    ALLOW("lock_status"),
    {"locking_mode", PRAGMA_READ, "normal",
     "an exclusive lock would shut the node's other connections out"},
    ALLOW("max_page_count"),
    {"mmap_size", PRAGMA_READ, "0",
     "the node's in-memory files are not mapped"},
    ALLOW("module_list"),
    ALLOW("optimize"),
    ALLOW("page_count"),
    {"page_size", PRAGMA_READ, "4096",
     "the node creates every database with 4096-byte pages"},
    {"parser_trace", PRAGMA_DENY, NULL, "a debugging aid of the process"},
    ALLOW("pragma_list"),
    ALLOW("query_only"),
    ALLOW("quick_check"),
    ALLOW("read_uncommitted"),
    ALLOW("recursive_triggers"),
    ALLOW("reverse_unordered_selects"),
    {"schema_version", PRAGMA_READ, NULL,
     "setting it corrupts the schema of every node"},
    ALLOW("secure_delete"),
    ALLOW("short_column_names"),
    ALLOW("shrink_memory"),
    {"soft_heap_limit", PRAGMA_READ, NULL,
     "a process-wide memory limit shared by every client of the node"},
    {"sql_trace", PRAGMA_DENY, NULL, "a debugging aid of the process"},
    ALLOW("stats"),
    ALLOW("synchronous"),
    ALLOW("table_info"),
    ALLOW("table_list"),
    ALLOW("table_xinfo"),
    ALLOW("temp_store"),
    {"temp_store_directory", PRAGMA_DENY, NULL,
     "a process-wide setting naming host directories"},
    {"threads", PRAGMA_READ, "0",
     "helper threads would run SQLite outside the node's SQLite lock"},
    ALLOW("trusted_schema"),
    ALLOW("user_version"),
    {"vdbe_addoptrace", PRAGMA_DENY, NULL, "a debugging aid of the process"},
    {"vdbe_debug", PRAGMA_DENY, NULL, "a debugging aid of the process"},
    {"vdbe_listing", PRAGMA_DENY, NULL, "a debugging aid of the process"},
    {"vdbe_trace", PRAGMA_DENY, NULL, "a debugging aid of the process"},
    {"wal_autocheckpoint", PRAGMA_READ, "0",
     "checkpoints are replicated commands the node decides"},
    {"wal_checkpoint", PRAGMA_DENY, NULL,
     "checkpoints are replicated commands the node decides"},
    {"writable_schema", PRAGMA_READ, "0|off|false|no",
     "editing sqlite_schema by hand corrupts the database on every node"},
};

static const struct pragma_policy *pragmaFind(const char *name)
{
    for (size_t i = 0; i < sizeof pragmas / sizeof pragmas[0]; i++) {
        if (strcasecmp(pragmas[i].name, name) == 0) {
            return &pragmas[i];
        }
    }
    return NULL;
}

/* Whether `value` is one of the '|' separated `values` (any case). */
static bool pragmaValueListed(const char *values, const char *value)
{
    size_t len = strlen(value);
    const char *v = values;
    while (v != NULL && *v != '\0') {
        const char *end = strchr(v, '|');
        size_t n = end != NULL ? (size_t)(end - v) : strlen(v);
        if (n == len && strncasecmp(v, value, n) == 0) {
            return true;
        }
        v = end != NULL ? end + 1 : NULL;
    }
    return false;
}

/* ------------------------------------------------------------ refusals */

static int policyRefuse(struct policy *p, const char *what, const char *arg,
                        const char *why)
{
    snprintf(p->message, sizeof p->message,
             "not authorized: %.128s%.64s refused by the SQL policy: %.200s",
             what, arg != NULL ? arg : "", why);
    return SQLITE_DENY;
}

static int policyPragma(struct policy *p, const char *name, const char *value)
{
    char what[96];
    const struct pragma_policy *rule = pragmaFind(name);
    snprintf(what, sizeof what, "PRAGMA %.40s%s%.40s", name,
             value != NULL ? "=" : "", value != NULL ? value : "");
    if (rule == NULL) {
        return policyRefuse(p, what, NULL,
                            "a pragma the node does not know (see "
                            "docs/sql-policy.md)");
    }
    switch (rule->rule) {
    case PRAGMA_ALLOW:
        return SQLITE_OK;
    case PRAGMA_READ:
        if (value == NULL || pragmaValueListed(rule->values, value)) {
            return SQLITE_OK;
        }
        return policyRefuse(p, what, NULL, rule->why);
    default:
        return policyRefuse(p, what, NULL, rule->why);
    }
}

/* The text of `sql` past blanks and comments. */
static const char *policySkipBlank(const char *sql)
{
    for (;;) {
        while (*sql == ' ' || *sql == '\t' || *sql == '\n' || *sql == '\r' ||
               *sql == '\f') {
            sql++;
        }
        if (sql[0] == '-' && sql[1] == '-') {
            const char *nl = strchr(sql, '\n');
            sql = nl != NULL ? nl : sql + strlen(sql);
        } else if (sql[0] == '/' && sql[1] == '*') {
            const char *end = strstr(sql + 2, "*/");
            sql = end != NULL ? end + 2 : sql + strlen(sql);
        } else {
            return sql;
        }
    }
}

bool policyIsVacuum(sqlite3_stmt *stmt)
{
    const char *sql = sqlite3_sql(stmt);
    if (sql == NULL) {
        return false;
    }
    sql = policySkipBlank(sql);
    /* The keyword whole: "VACUUM", "VACUUM main", "vacuum;" */
    return strncasecmp(sql, "vacuum", 6) == 0 &&
           (sql[6] == '\0' || sql[6] == ';' || sql[6] == ' ' ||
            sql[6] == '\t' || sql[6] == '\n' || sql[6] == '\r' ||
            sql[6] == '-' || sql[6] == '/');
}

/* Whether a VACUUM of this connection is running: it attaches a
 * temporary database of its own ("ATTACH ''") while it steps. */
static bool policyVacuumRunning(sqlite3 *db)
{
    for (sqlite3_stmt *s = sqlite3_next_stmt(db, NULL); s != NULL;
         s = sqlite3_next_stmt(db, s)) {
        if (sqlite3_stmt_busy(s) && policyIsVacuum(s)) {
            return true;
        }
    }
    return false;
}

static int policyAttach(struct policy *p, const char *file)
{
    char what[128];
    if (file != NULL && file[0] == '\0' && policyVacuumRunning(p->db)) {
        return SQLITE_OK; /* VACUUM's own temporary copy */
    }
    snprintf(what, sizeof what, "ATTACH (or VACUUM INTO) '%.80s'",
             file != NULL ? file : "");
    return policyRefuse(p, what, NULL,
                        "a database outside the replicated one is neither "
                        "replicated nor confined to the node's data");
}

static int policyFunction(struct policy *p, const char *name)
{
    if (name == NULL) {
        return SQLITE_OK;
    }
    if (strcasecmp(name, "fts3_tokenizer") == 0) {
        return policyRefuse(p, "function ", name,
                            "it hands out and takes raw memory addresses "
                            "(a client could crash the node)");
    }
    if (strcasecmp(name, "load_extension") == 0) {
        return policyRefuse(p, "function ", name,
                            "loading code into the node is not allowed");
    }
    return SQLITE_OK;
}

static int policyAuthorize(void *arg, int action, const char *a1,
                           const char *a2, const char *db_name,
                           const char *trigger)
{
    struct policy *p = arg;
    (void)db_name;
    (void)trigger;
    switch (action) {
    case SQLITE_PRAGMA:
        return policyPragma(p, a1 != NULL ? a1 : "", a2);
    case SQLITE_ATTACH:
        return policyAttach(p, a1);
    case SQLITE_DETACH:
        return policyRefuse(p, "DETACH", NULL,
                            "only the replicated database is attached");
    case SQLITE_FUNCTION:
        return policyFunction(p, a2);
    default:
        return SQLITE_OK;
    }
}

/* ------------------------------------------------------------ setup */

struct policy_limit {
    int id;
    int value;
};

static const struct policy_limit limits[] = {
    {SQLITE_LIMIT_LENGTH, POLICY_LIMIT_LENGTH},
    {SQLITE_LIMIT_SQL_LENGTH, POLICY_LIMIT_SQL_LENGTH},
    {SQLITE_LIMIT_COLUMN, POLICY_LIMIT_COLUMN},
    {SQLITE_LIMIT_EXPR_DEPTH, POLICY_LIMIT_EXPR_DEPTH},
    {SQLITE_LIMIT_COMPOUND_SELECT, POLICY_LIMIT_COMPOUND_SELECT},
    {SQLITE_LIMIT_VDBE_OP, POLICY_LIMIT_VDBE_OP},
    {SQLITE_LIMIT_FUNCTION_ARG, POLICY_LIMIT_FUNCTION_ARG},
    {SQLITE_LIMIT_ATTACHED, POLICY_LIMIT_ATTACHED},
    {SQLITE_LIMIT_LIKE_PATTERN_LENGTH, POLICY_LIMIT_LIKE_PATTERN_LENGTH},
    {SQLITE_LIMIT_VARIABLE_NUMBER, POLICY_LIMIT_VARIABLE_NUMBER},
    {SQLITE_LIMIT_TRIGGER_DEPTH, POLICY_LIMIT_TRIGGER_DEPTH},
    {SQLITE_LIMIT_WORKER_THREADS, POLICY_LIMIT_WORKER_THREADS},
};

/* Connection settings: on (1) or off (0). TRUSTED_SCHEMA stays as built:
 * turning it off breaks triggers that write FTS tables ("unsafe use of
 * virtual table"), and the authorizer checks functions in the schema. */
static const struct policy_limit configs[] = {
    {SQLITE_DBCONFIG_DEFENSIVE, 1},
    {SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0},
    {SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER, 0},
};

int policyApply(struct policy *p, sqlite3 *db)
{
    PRE(p != NULL && db != NULL);
    p->db = db;
    p->message[0] = '\0';
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        int rc =
            sqlite3_db_config(db, configs[i].id, configs[i].value, (int *)NULL);
        if (rc != SQLITE_OK) {
            return rc;
        }
    }
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        sqlite3_limit(db, limits[i].id, limits[i].value);
    }
    return sqlite3_set_authorizer(db, policyAuthorize, p);
}

const char *policyMessage(const struct policy *p)
{
    return p->message[0] != '\0' ? p->message : NULL;
}

void policyForget(struct policy *p)
{
    p->message[0] = '\0';
}

void policyLoopLimits(sqlite3 *db, bool on_loop)
{
    int len = on_loop ? POLICY_LOOP_LENGTH : POLICY_LIMIT_LENGTH;
    int sql_len = on_loop ? POLICY_LOOP_LENGTH : POLICY_LIMIT_SQL_LENGTH;
    sqlite3_limit(db, SQLITE_LIMIT_LENGTH, len);
    sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, sql_len);
}

bool policyLoopTooBig(int rc)
{
    return (rc & 0xff) == SQLITE_TOOBIG;
}
