/*
 * A minimal dqlite node for the interop tests, written against the public
 * dqlite.h only (as a 1.11 program would be):
 *
 *   interop-node [-b BIND] [-d DOMAIN] ID ADDRESS DIR
 *
 * ADDRESS is what the node advertises (and binds, unless -b gives another
 * bind address); DIR must exist. Node 1 bootstraps a one-node cluster on an
 * empty DIR; other nodes wait to be added (ADD, then ASSIGN). Prints
 * "ready ID ADDRESS" on stdout once the node serves, and stops cleanly on
 * SIGTERM or SIGINT (exit status 0), printing "stopped ID".
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dqlite.h"

static void usage(void)
{
    fprintf(stderr,
            "usage: interop-node [-b BIND] [-d DOMAIN] ID ADDRESS DIR\n");
    exit(2);
}

static int fail(dqlite_node *node, const char *what, int rv)
{
    fprintf(stderr, "interop-node: %s: %d %s\n", what, rv,
            dqlite_node_errmsg(node));
    dqlite_node_destroy(node);
    return 1;
}

int main(int argc, char *argv[])
{
    const char *bind = NULL;
    unsigned long long domain = 0;
    int have_domain = 0;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i += 2) {
        if (i + 1 >= argc) {
            usage();
        }
        if (strcmp(argv[i], "-b") == 0) {
            bind = argv[i + 1];
        } else if (strcmp(argv[i], "-d") == 0) {
            domain = strtoull(argv[i + 1], NULL, 10);
            have_domain = 1;
        } else {
            usage();
        }
    }
    if (argc - i != 3) {
        usage();
    }
    char *end;
    errno = 0;
    dqlite_node_id id = strtoull(argv[i], &end, 10);
    if (errno != 0 || *end != '\0' || id == 0) {
        usage();
    }
    const char *address = argv[i + 1];
    const char *dir = argv[i + 2];
    if (bind == NULL) {
        bind = address;
    }

    /* Block the stop signals before the node's threads exist, so that they
     * inherit the mask and only sigwait() below sees the signals. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    dqlite_node *node = NULL;
    int rv = dqlite_node_create(id, address, dir, &node);
    if (rv != 0) {
        return fail(node, "create", rv);
    }
    rv = dqlite_node_set_bind_address(node, bind);
    if (rv != 0) {
        return fail(node, "bind", rv);
    }
    if (have_domain) {
        rv = dqlite_node_set_failure_domain(node, domain);
        if (rv != 0) {
            return fail(node, "failure domain", rv);
        }
    }
    rv = dqlite_node_start(node);
    if (rv != 0) {
        return fail(node, "start", rv);
    }
    printf("ready %llu %s\n", id, dqlite_node_get_bind_address(node));
    fflush(stdout);

    int sig = 0;
    sigwait(&stop, &sig);
    rv = dqlite_node_stop(node);
    if (rv != 0) {
        return fail(node, "stop", rv);
    }
    dqlite_node_destroy(node);
    printf("stopped %llu\n", id);
    fflush(stdout);
    return 0;
}
