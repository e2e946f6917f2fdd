/* The node's hold on its data directory (src/server/datadir.c): a second
 * node on a running node's directory is refused (same process: flock
 * belongs to the open file), a directory another node id owns is refused
 * with DQLITE_CANTBOOTSTRAP, node-id is written only once a start
 * succeeded, and the lock goes with the node. */
#include <criterion/criterion.h>
#include <dqlite.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static char dir[] = "/tmp/dqlite-test-datadir-XXXXXX";

static void setup(void)
{
    cr_assert_not_null(mkdtemp(dir));
}

static int removeEntry(const char *path, const struct stat *st, int flag,
                       struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void teardown(void)
{
    nftw(dir, removeEntry, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(datadir, .init = setup, .fini = teardown);

/* A node on `dir` bound to a kernel-chosen abstract address; started. */
static dqlite_node *startNode(dqlite_node_id id)
{
    dqlite_node *n;
    cr_assert_eq(dqlite_node_create(id, "@", dir, &n), 0);
    cr_assert_eq(dqlite_node_set_bind_address(n, "@"), 0);
    cr_assert_eq(dqlite_node_start(n), 0, "%s", dqlite_node_errmsg(n));
    return n;
}

/* The node-id file's text, "" if there is none. */
static const char *nodeIdText(void)
{
    static char text[64];
    char path[256];
    snprintf(path, sizeof path, "%s/node-id", dir);
    memset(text, 0, sizeof text);
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        size_t n = fread(text, 1, sizeof text - 1, f);
        (void)n;
        fclose(f);
    }
    return text;
}

Test(datadir, second_node_on_a_running_nodes_dir_is_refused)
{
    dqlite_node *first = startNode(1);
    dqlite_node *second;
    char expected[256];
    cr_assert_eq(dqlite_node_create(1, "@", dir, &second), 0);
    cr_assert_eq(dqlite_node_set_bind_address(second, "@"), 0);
    cr_assert_eq(dqlite_node_start(second), DQLITE_LOCKED);
    snprintf(expected, sizeof expected,
             "data directory %s is in use by another node (pid %ld)", dir,
             (long)getpid());
    cr_assert_str_eq(dqlite_node_errmsg(second), expected);
    dqlite_node_destroy(second);
    dqlite_node_destroy(first);
    /* The lock went with the first node. */
    dqlite_node *third = startNode(1);
    dqlite_node_destroy(third);
}

Test(datadir, binding_a_running_nodes_address_names_the_directory)
{
    dqlite_node *first;
    dqlite_node *second;
    cr_assert_eq(
        dqlite_node_create(1, "@dqlite-test-datadir-bind", dir, &first), 0);
    cr_assert_eq(dqlite_node_start(first), 0, "%s", dqlite_node_errmsg(first));
    cr_assert_eq(
        dqlite_node_create(1, "@dqlite-test-datadir-bind", dir, &second), 0);
    cr_assert_eq(dqlite_node_start(second), DQLITE_LOCKED);
    cr_assert(strstr(dqlite_node_errmsg(second), "is in use by another node") !=
              NULL);
    dqlite_node_destroy(second);
    dqlite_node_destroy(first);
}

Test(datadir, node_id_is_written_once_started)
{
    dqlite_node *n = startNode(7);
    cr_assert_str_eq(nodeIdText(), "7\n");
    dqlite_node_destroy(n);
    n = startNode(7); /* its own directory: accepted */
    dqlite_node_destroy(n);
}

Test(datadir, another_ids_directory_is_refused_as_cantbootstrap)
{
    dqlite_node *n = startNode(1);
    dqlite_node_destroy(n);
    cr_assert_eq(dqlite_node_create(2, "@", dir, &n), 0);
    cr_assert_eq(dqlite_node_set_bind_address(n, "@"), 0);
    cr_assert_eq(dqlite_node_start(n), DQLITE_CANTBOOTSTRAP);
    cr_assert(strstr(dqlite_node_errmsg(n), "belongs to node 1") != NULL, "%s",
              dqlite_node_errmsg(n));
    dqlite_node_destroy(n);
    cr_assert_str_eq(nodeIdText(), "1\n");
}

Test(datadir, failed_start_leaves_the_directory_unclaimed)
{
    /* Someone else (not a node) holds the address. */
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    const char *name = "dqlite-test-datadir-taken";
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    memcpy(un.sun_path + 1, name, strlen(name));
    cr_assert_eq(bind(fd, (struct sockaddr *)&un,
                      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
                                  strlen(name))),
                 0);
    dqlite_node *n;
    cr_assert_eq(dqlite_node_create(3, "@dqlite-test-datadir-taken", dir, &n),
                 0);
    cr_assert_eq(dqlite_node_start(n), DQLITE_ERROR);
    cr_assert(strstr(dqlite_node_errmsg(n), "in use") != NULL, "%s",
              dqlite_node_errmsg(n));
    dqlite_node_destroy(n);
    close(fd);
    cr_assert_str_eq(nodeIdText(), "");
    /* Another id may take the directory. */
    n = startNode(4);
    cr_assert_str_eq(nodeIdText(), "4\n");
    dqlite_node_destroy(n);
}

Test(datadir, recover_on_a_running_nodes_dir_is_refused)
{
    dqlite_node *first = startNode(1);
    dqlite_node *second;
    dqlite_node_info info = {.id = 1, .address = "@x"};
    cr_assert_eq(dqlite_node_create(1, "@", dir, &second), 0);
    cr_assert_eq(dqlite_node_recover(second, &info, 1), DQLITE_LOCKED);
    dqlite_node_destroy(second);
    dqlite_node_destroy(first);
}
