/* The HTTP listener over TLS with the node's certificate files: a client
 * (OpenSSL) gets answers over HTTPS, a plaintext request gets none, and
 * with verify_clients only a client holding a certificate from the CA is
 * answered (403 otherwise). Certificates are made at test time with the
 * openssl CLI in a temporary directory. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http.h"

static char dir[64];
static char paths[4][128];
static struct http_server *server;

static void certMake(const char *name, char *crt, char *key)
{
    char cmd[1024];
    snprintf(crt, 128, "%s/%s.crt", dir, name);
    snprintf(key, 128, "%s/%s.key", dir, name);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
             "-nodes -days 2 -subj /CN=%s -addext subjectAltName=IP:127.0.0.1 "
             "-keyout %s -out %s 2>/dev/null",
             name, key, crt);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/dqlite-http-tls-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    certMake("cluster", paths[0], paths[1]);
    certMake("other", paths[2], paths[3]);
}

static void teardown(void)
{
    char cmd[128];
    httpServerStop(server);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(http_tls, .init = setup, .fini = teardown);

static void onHello(void *data, const struct http_request *req,
                    struct http_response *res)
{
    (void)data;
    (void)req;
    httpRespond(res, 200, NULL, "hello over tls\n");
}

static const struct http_route routes[] = {
    {.path = "/hello", .methods = HTTP_GET, .fn = onHello},
};

static void start(bool verify_clients)
{
    struct http_tls tls = {.cert_file = paths[0],
                           .key_file = paths[1],
                           .ca_file = paths[0],
                           .verify_clients = verify_clients};
    struct http_config config = {.address = "127.0.0.1:0", .tls = &tls};
    char errmsg[256];
    cr_assert_eq(
        httpServerStart(&server, &config, routes, 1, errmsg, sizeof errmsg), 0,
        "%s", errmsg);
    cr_assert(httpServerTls(server));
}

static int dial(void)
{
    const char *a = httpServerAddress(server);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sa.sin_port = htons((uint16_t)atoi(strrchr(a, ':') + 1));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

/* GET /hello over TLS with an optional client certificate (index into
 * paths); returns the status, or -1 when no answer came. */
static int get(int client_cert, char *reply, size_t cap)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    int status = -1;
    size_t n = 0;
    SSL_CTX_load_verify_locations(ctx, paths[0], NULL);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (client_cert >= 0) {
        cr_assert_eq(SSL_CTX_use_certificate_file(ctx, paths[client_cert],
                                                  SSL_FILETYPE_PEM),
                     1);
        cr_assert_eq(SSL_CTX_use_PrivateKey_file(ctx, paths[client_cert + 1],
                                                 SSL_FILETYPE_PEM),
                     1);
    }
    int fd = dial();
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    reply[0] = '\0';
    if (SSL_connect(ssl) == 1) {
        const char *req =
            "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        SSL_write(ssl, req, (int)strlen(req));
        int got;
        while (n + 1 < cap &&
               (got = SSL_read(ssl, reply + n, (int)(cap - 1 - n))) > 0) {
            n += (size_t)got;
        }
        reply[n] = '\0';
        if (sscanf(reply, "HTTP/1.%*d %d", &status) != 1) {
            status = -1;
        }
    }
    SSL_free(ssl);
    close(fd);
    SSL_CTX_free(ctx);
    return status;
}

Test(http_tls, https_answers_and_plaintext_does_not)
{
    char reply[4096];
    start(false);
    cr_assert_eq(get(-1, reply, sizeof reply), 200, "%s", reply);
    cr_assert(strstr(reply, "hello over tls") != NULL);
    int fd = dial();
    const char *req = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
    (void)!write(fd, req, strlen(req));
    ssize_t got = read(fd, reply, sizeof reply - 1);
    close(fd);
    cr_assert(got <= 0 || strncmp(reply, "HTTP/1.1 200", 12) != 0);
}

Test(http_tls, mutual_tls_answers_only_the_cluster_certificate)
{
    char reply[4096];
    start(true);
    cr_assert_eq(get(0, reply, sizeof reply), 200, "%s", reply);
    int status = get(-1, reply, sizeof reply);
    cr_assert(status == 403 || status == -1, "no certificate: %d", status);
    status = get(2, reply, sizeof reply);
    cr_assert(status == 403 || status == -1, "other CA: %d", status);
}

Test(http_tls, missing_key_file_is_refused_with_its_name)
{
    struct http_tls tls = {.cert_file = paths[0], .key_file = "/nonexistent"};
    struct http_config config = {.address = "127.0.0.1:0", .tls = &tls};
    char errmsg[256];
    cr_assert_lt(
        httpServerStart(&server, &config, routes, 1, errmsg, sizeof errmsg), 0);
    cr_assert(strstr(errmsg, "/nonexistent") != NULL, "%s", errmsg);
}
