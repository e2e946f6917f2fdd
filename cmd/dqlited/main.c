/*
 * dqlited: one dqlite node per process. Parses the options, claims the data
 * directory, creates and starts the node (dqlite.h), joins a cluster when
 * asked (dqlite_client.h), prints where it listens, and waits for SIGTERM
 * or SIGINT to stop the node gracefully (or, with --recover, rewrites the
 * configuration and exits: recover.c). Signals are blocked in every thread
 * and taken synchronously by the main thread (sigtimedwait), so no work
 * happens in a signal handler.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include <dqlite.h>

#include "dqlited.h"

/* Seconds a graceful stop may take before the process is ended (exit
 * DQLITED_EXIT_STOP_TIMEOUT, with a log line). */
#define STOP_TIMEOUT_S 30

static sigset_t stop_signals;
/* Set by the node's thread when the cluster removed the node; it then
 * sends SIGUSR1, which ends the wait for a signal. */
static volatile sig_atomic_t node_removed;
/* Set by the node's thread when the node stopped serving for good (its
 * data directory cannot be written...); SIGUSR1 follows, as above. */
static volatile sig_atomic_t node_broken;

/* The running node with TLS on: SIGHUP reloads its certificates. */
static dqlite_node *tls_node;
/* The configuration SIGHUP reads the log level from again. */
static const struct config *reload_cfg;

/* SIGHUP: the log level from the configuration file and environment. */
static void reloadLevel(void)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    int level;
    if (reload_cfg == NULL) {
        return;
    }
    if (optionsReloadLevel(reload_cfg, &level) != 0) {
        logMsg(LOG_ERROR, "SIGHUP: %s unreadable: log level unchanged",
               reload_cfg->config);
        return;
    }
    logSetLevel(level);
    logMsg(LOG_INFO, "SIGHUP: log level %s%s", names[level],
           reload_cfg->log_level_fixed ? " (fixed by --log-level)" : "");
}

/* SIGHUP (and a SIGUSR1 that is not the node's): not a stop. SIGHUP
 * reloads the TLS certificate, key and CA when TLS is on (a failed reload
 * keeps the old ones; the node logs why); otherwise it is logged. */
static bool signalIgnored(int sig)
{
    if (sig != SIGHUP && (sig != SIGUSR1 || node_removed || node_broken)) {
        return false;
    }
    if (sig == SIGHUP) {
        sd_notify(0, "RELOADING=1");
        reloadLevel();
    }
    if (sig == SIGHUP && tls_node != NULL) {
        int rv = dqlite_node_reload_tls(tls_node);
        logMsg(rv == 0 ? LOG_INFO : LOG_ERROR, "SIGHUP: TLS reload %s",
               rv == 0 ? "done" : "failed, the previous files stay in use");
        sd_notify(0, "READY=1");
        return true;
    }
    if (sig == SIGHUP) {
        sd_notify(0, "READY=1");
        return true;
    }
    /* A hang-up must not end the node without a graceful stop. */
    logMsg(LOG_INFO, "%s ignored (stop with SIGTERM or SIGINT)",
           sig == SIGHUP ? "SIGHUP" : "SIGUSR1");
    return true;
}

int signalWait(int timeout_ms)
{
    struct timespec ts = {.tv_sec = timeout_ms / 1000,
                          .tv_nsec = (long)(timeout_ms % 1000) * 1000000};
    int sig;
    do {
        sig = sigtimedwait(&stop_signals, NULL, timeout_ms < 0 ? NULL : &ts);
    } while ((sig < 0 && errno == EINTR) || signalIgnored(sig));
    return sig < 0 ? 0 : sig;
}

/* The node's own log lines, through ours (called on the node's thread). */
static void nodeLog(void *arg, int level, const char *message)
{
    (void)arg;
    logMsg(level, "node: %s", message);
}

/* The node stopped serving for good (its log line says why): stop it and
 * exit DQLITED_EXIT_BROKEN rather than stay a silent member. */
static void nodeFatal(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* logged by the node already */
    node_broken = 1;
    kill(getpid(), SIGUSR1); /* taken by main's signalWait */
}

/* The node's state changes (its thread): a removal ends dqlited. */
static void nodeWatch(void *arg, int old_state, int new_state,
                      dqlite_node_id leader)
{
    (void)arg;
    (void)old_state;
    (void)leader;
    if (new_state == DQLITE_REMOVED) {
        node_removed = 1;
        kill(getpid(), SIGUSR1);
    }
}

/* Applies the tuning options to a created node. */
static int nodeConfigure(dqlite_node *node, const struct config *cfg)
{
    /* Everything from debug up: dqlited filters, so SIGHUP can lower the
     * level of a running node. */
    int rv = dqlite_node_set_log_func(node, nodeLog, NULL, DQLITE_LOG_DEBUG);
    if (rv == 0) {
        rv = dqlite_node_set_watch_func(node, nodeWatch, NULL);
    }
    if (rv == 0) {
        rv = dqlite_node_set_fatal_func(node, nodeFatal, NULL);
    }
    if (rv == 0 && cfg->latency_ms != 0) {
        rv = dqlite_node_set_network_latency_ms(node, cfg->latency_ms);
    }
    if (rv == 0 && cfg->read_lease_set) {
        rv = dqlite_node_set_read_lease(node, cfg->read_lease);
    }
    if (rv == 0 && cfg->failure_domain_set) {
        rv = dqlite_node_set_failure_domain(node, cfg->failure_domain);
    }
    if (rv == 0 &&
        (cfg->snapshot_threshold != 0 || cfg->snapshot_trailing != 0)) {
        unsigned threshold = cfg->snapshot_threshold;
        unsigned trailing = cfg->snapshot_trailing;
        threshold = threshold != 0 ? threshold : 1024;
        trailing = trailing != 0 ? trailing : 8192;
        rv = dqlite_node_set_snapshot_params(
            node, threshold, threshold > trailing ? threshold : trailing);
    }
    if (rv == 0 && cfg->client_limits_set) {
        rv = dqlite_node_set_client_limits(node, cfg->idle_timeout_s * 1000u,
                                           cfg->stall_timeout_s * 1000u,
                                           cfg->client_memory_mib << 20);
    }
    if (rv == 0 && cfg->entry_cache_set) {
        rv = dqlite_node_set_entry_cache(node, cfg->entry_cache_mib << 20);
    }
    if (rv == 0 && cfg->auto_voters != 0) {
        rv = dqlite_node_set_auto_roles(node, cfg->auto_voters,
                                        cfg->auto_standbys);
    }
    if (rv == 0 && cfg->statement_timeout_set) {
        rv = dqlite_node_set_statement_timeout(node, cfg->statement_timeout_ms);
    }
    if (rv == 0 && cfg->bind != NULL) {
        rv = dqlite_node_set_bind_address(node, cfg->bind);
    }
    if (rv == 0 && cfg->http != NULL) {
        rv = dqlite_node_set_http_address(node, cfg->http);
    }
    if (rv == 0 && cfg->http_auth != NULL) {
        rv = dqlite_node_set_http_auth(node, cfg->http_auth);
    }
    if (rv == 0 && cfg->tls_cert != NULL) {
        rv = dqlite_node_set_tls(node, cfg->tls_cert, cfg->tls_key, cfg->tls_ca,
                                 cfg->tls_flags);
        if (rv == 0 && cfg->tls_handshake_timeout_ms != 0) {
            rv = dqlite_node_set_tls_handshake_timeout(
                node, cfg->tls_handshake_timeout_ms);
        }
        tls_node = rv == 0 ? node : NULL;
    }
    return rv;
}

/* Creates, configures and starts the node. */
static int nodeRun(const struct config *cfg, dqlite_node **node)
{
    int rv = dqlite_node_create(cfg->id, cfg->address, cfg->dir, node);
    if (rv == 0) {
        rv = nodeConfigure(*node, cfg);
    }
    if (rv == 0) {
        rv = dqlite_node_start(*node);
    }
    if (rv != 0) {
        logMsg(LOG_ERROR, "node %" PRIu64 ": %s", cfg->id,
               dqlite_node_errmsg(*node));
        return datadirExitCode(rv, DQLITED_EXIT_FAIL);
    }
    return 0;
}

static void printListening(dqlite_node *node, const struct config *cfg)
{
    const char *bound = dqlite_node_get_bind_address(node);
    printf("listening on %s (node %" PRIu64 ")\n",
           bound != NULL ? bound : cfg->address, cfg->id);
    fflush(stdout);
    logMsg(LOG_INFO, "node %" PRIu64 " serves on %s, advertised as %s", cfg->id,
           bound != NULL ? bound : cfg->address, cfg->address);
    if (dqlite_node_get_http_address(node) != NULL) {
        logMsg(LOG_INFO, "HTTP on %s (/metrics, /healthz, /readyz)",
               dqlite_node_get_http_address(node));
    }
    /* systemd's Type=notify: the node serves (a no-op outside systemd). */
    sd_notifyf(0, "READY=1\nSTATUS=serving on %s",
               bound ? bound : cfg->address);
}

/* Joins (or checks membership) as the --join option asks, and announces
 * the node. A fresh node that cannot join is a failure; a node resuming
 * its state serves first and only checks its membership. */
static int nodeAnnounce(dqlite_node *node, const struct config *cfg, bool fresh,
                        bool *stop)
{
    int rv = 0;
    if (cfg->join == NULL) {
        printListening(node, cfg);
        if (fresh && cfg->id != 1) {
            logMsg(LOG_INFO,
                   "node %" PRIu64 " has no state and no --join: "
                   "waiting to be added to a cluster",
                   cfg->id);
        }
        return 0;
    }
    if (!fresh) {
        printListening(node, cfg);
        if (joinCluster(cfg, stop) == DQLITED_EXIT_JOIN) {
            logMsg(LOG_WARN, "membership not confirmed; still serving");
        }
        return 0;
    }
    rv = joinCluster(cfg, stop);
    if (rv == 0) {
        printListening(node, cfg);
    }
    return rv == 1 ? 0 : rv;
}

/* Ends a stop that overran its bound: a node whose stop hangs (a peer or a
 * disk that never answers) must still leave, and say why. */
static void *stopWatchdog(void *arg)
{
    (void)arg;
    sleep(STOP_TIMEOUT_S);
    logMsg(LOG_ERROR, "the stop did not finish within %d s: forced exit %d",
           STOP_TIMEOUT_S, DQLITED_EXIT_STOP_TIMEOUT);
    _exit(DQLITED_EXIT_STOP_TIMEOUT);
    return NULL;
}

static int nodeShutdown(dqlite_node *node, int exit_code)
{
    pthread_t watchdog;
    logMsg(LOG_INFO, "stopping");
    sd_notify(0, "STOPPING=1");
    if (pthread_create(&watchdog, NULL, stopWatchdog, NULL) == 0) {
        pthread_detach(watchdog);
    } else {
        alarm(STOP_TIMEOUT_S); /* no thread: SIGALRM ends it, unlogged */
    }
    if (dqlite_node_stop(node) != 0) {
        logMsg(LOG_ERROR, "stop: %s", dqlite_node_errmsg(node));
        exit_code = exit_code != 0 ? exit_code : DQLITED_EXIT_STOP;
    }
    tls_node = NULL;
    dqlite_node_destroy(node);
    logMsg(LOG_INFO, "stopped");
    return exit_code;
}

int main(int argc, char *argv[])
{
    struct config cfg;
    dqlite_node *node = NULL;
    bool fresh = false;
    bool stop = false;
    int rv = optionsParse(argc, argv, &cfg);
    if (rv >= 0) {
        return rv;
    }
    logSetLevel(cfg.log_level);
    logSetFormat(cfg.log_format);
    reload_cfg = &cfg;
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGHUP);  /* taken and ignored by signalWait */
    sigaddset(&stop_signals, SIGUSR1); /* the node was removed */
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

    rv = datadirClaim(&cfg, &fresh);
    if (rv != 0 || cfg.recover != NULL) {
        return rv != 0 ? rv : recoverRun(&cfg);
    }
    rv = nodeRun(&cfg, &node);
    if (rv != 0) {
        dqlite_node_destroy(node);
        return rv;
    }
    rv = nodeAnnounce(node, &cfg, fresh, &stop);
    if (rv == 0 && !stop) {
        int sig = signalWait(-1);
        if (sig == SIGUSR1 && node_broken) {
            logMsg(LOG_ERROR, "the node stopped serving: stopping (exit %d)",
                   DQLITED_EXIT_BROKEN);
            rv = DQLITED_EXIT_BROKEN;
        } else if (sig == SIGUSR1) {
            logMsg(LOG_ERROR,
                   "node %" PRIu64 " was removed from the cluster: "
                   "stopping (exit %d)",
                   cfg.id, DQLITED_EXIT_REMOVED);
            rv = DQLITED_EXIT_REMOVED;
        } else {
            logMsg(LOG_INFO, "received %s",
                   sig == SIGINT ? "SIGINT" : "SIGTERM");
        }
    }
    return nodeShutdown(node, rv);
}
