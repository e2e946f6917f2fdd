/* The default dial function: TCP host:port, abstract Unix "@name", and
 * refusal of malformed addresses and closed ports. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "client/client.h"
#include "fake.h"
#include "lib/err.h"

TestSuite(dial, .init = fakeWatchdog);

static void idle(struct fake_conn *fc, void *arg)
{
    (void)arg;
    fakeWaitClose(fc);
}

Test(dial, tcp)
{
    struct fake_server *srv = fakeStart(idle, NULL);
    int fd = -1;
    cr_assert_eq(clientDialDefault(NULL, srv->address, 1000, &fd), 0);
    cr_assert_geq(fd, 0);
    close(fd);
    fakeStop(srv);
}

Test(dial, abstract_unix)
{
    char address[64];
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    int fd = -1;
    socklen_t len;
    snprintf(address, sizeof address, "@dqlite-client-test-%d", getpid());
    memcpy(sun.sun_path + 1, address + 1, strlen(address) - 1);
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(address));
    cr_assert_eq(bind(l, (struct sockaddr *)&sun, len), 0);
    cr_assert_eq(listen(l, 1), 0);
    cr_assert_eq(clientDialDefault(NULL, address, 1000, &fd), 0);
    close(fd);
    close(l);
}

Test(dial, refusals)
{
    int fd = -1;
    cr_assert_eq(clientDialDefault(NULL, "no-port", 100, &fd), ERR_INVALID);
    cr_assert_eq(clientDialDefault(NULL, "[::1:80", 100, &fd), ERR_INVALID);
    cr_assert_eq(clientDialDefault(NULL, "127.0.0.1:", 100, &fd), ERR_INVALID);
    cr_assert_neq(clientDialDefault(NULL, "127.0.0.1:1", 100, &fd), 0);
}
