/*
 * TLS on the node's port (dqlite_node_set_tls): the one place that speaks
 * OpenSSL. Every accepted stream, and every stream the transport dials to
 * a peer, starts as a TLS link: OpenSSL runs over memory BIOs fed by the
 * libuv stream, so nothing blocks the loop, handshakes included. Nothing
 * is read from a stranger before its certificate is verified (mutual TLS);
 * plaintext is told apart by its first two bytes (a TLS record starts 0x16
 * 0x03) and closed, logged once per address per TLS_REFUSED_LOG_MS.
 *
 * Once the handshake is done, an accepted stream and its session go to
 * conn.c, which runs TLS on the connection itself through the seam below
 * (tlsLink*: records decrypted straight into its reader, responses sealed
 * and written in one uv_write): no extra descriptor, copy or wakeup. The
 * raft transport reads and writes descriptors, so its streams keep a relay:
 * the link passes cleartext to a Unix socketpair whose other end the
 * transport owns (a dialled peer stream; an accepted one after its CONNECT,
 * tlsLinkRelay).
 *
 * Identity: after the handshake a client's certificate gives the stream a
 * role (enum tls_role), kept by the connection: the node's own certificate,
 * or one whose subject has OU=dqlite-node, is a node (peer streams and
 * admin requests); OU=dqlite-admin is an admin (admin requests); any other
 * certificate the CA signed is a client. The roles matter only with
 * DQLITE_TLS_ADMIN_AUTH.
 *
 * Threading: tlsConfigure before start; tlsReload from any thread (the
 * contexts are swapped under a mutex, links made after it use the new
 * ones); tlsDial on the thread pool (the transport's connect function);
 * everything else on the loop.
 */
#ifndef SERVER_TLS_H
#define SERVER_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

struct dqlite_node;

/* Default bound on a TLS handshake (first byte to verified certificate);
 * dqlite_node_set_tls_handshake_timeout changes it. */
#define TLS_HANDSHAKE_TIMEOUT_MS_DEFAULT 10000u
/* A refused plaintext peer address is logged at most once per this. */
#define TLS_REFUSED_LOG_MS 60000u
/* Cleartext or ciphertext queued for one side above which the other side
 * stops being read. */
#define TLS_MAX_QUEUED (4u << 20)
/* Longest wait for the last bytes to be written once one side closed. */
#define TLS_LINGER_MS 5000u

enum tls_role {
    TLS_ROLE_NONE = 0, /* TLS off: plaintext node */
    TLS_ROLE_ANON,     /* no certificate (client auth optional) */
    TLS_ROLE_CLIENT,   /* a certificate the CA signed, no mark */
    TLS_ROLE_ADMIN,    /* ...with OU=dqlite-admin */
    TLS_ROLE_NODE,     /* the node's own certificate, or OU=dqlite-node */
};

/* Loads the certificate, key and CA (the public flags DQLITE_TLS_*): an
 * error is recorded on the node (nodeErrorf). */
int tlsConfigure(struct dqlite_node *n, const char *cert_path,
                 const char *key_path, const char *ca_path, unsigned flags);

/* Loads the files again; on failure the old contexts stay and the reason
 * is logged and recorded. */
int tlsReload(struct dqlite_node *n);

bool tlsEnabled(const struct dqlite_node *n);

/* The files given to dqlite_node_set_tls (borrowed, live until destroy),
 * and whether clients must present a certificate (the HTTP listener uses
 * the same ones). TLS must be enabled. */
void tlsPaths(const struct dqlite_node *n, const char **cert, const char **key,
              const char **ca, bool *verify_clients);

/* With DQLITE_TLS_ADMIN_AUTH: whether `role` may open a peer stream, or
 * send an admin request (membership, DUMP, roles, WEIGHT). */
bool tlsMayPeer(const struct dqlite_node *n, enum tls_role role);
bool tlsMayAdmin(const struct dqlite_node *n, enum tls_role role);

/* Loop: start relaying dialled streams; close every link (at stop). */
int tlsLoopStart(struct dqlite_node *n);
void tlsLoopClose(struct dqlite_node *n);

/* Loop: takes an accepted stream (malloc'ed, owned from now on). */
void tlsAccept(struct dqlite_node *n, uv_stream_t *stream);

/* Thread pool: the transport's connect function while TLS is on (arg is
 * the node). Dials with the node's connect function (or the built-in one)
 * and returns one end of a socketpair; the loop runs TLS on the socket. */
int tlsDial(void *arg, const char *address, int *fd);

/* ---- the seam for conn.c: TLS inside a client connection.
 *
 * An accepted stream whose handshake is done is handed to conn.c with its
 * session (connStartAs): from then on conn.c reads ciphertext from the
 * stream itself, hands it to tlsLinkFeed and decrypts it straight into its
 * input buffer with tlsLinkRead; a response is sealed with tlsLinkWrite and
 * the records taken with tlsLinkTake for one uv_write. No socketpair, no
 * relay, no extra copy of the cleartext. A CONNECT on such a connection
 * (a peer stream) goes back to a relay (tlsLinkRelay): the raft transport
 * reads descriptors. */
struct tls_session;

/* Ciphertext read from the stream (copied into the session). */
int tlsLinkFeed(struct tls_session *s, const void *data, size_t len);

/* Cleartext decrypted into out[0..cap): 0 with *n > 0; ERR_AGAIN when no
 * whole record is buffered; ERR_IO when the peer closed (close_notify) or
 * sent what is no record of the session (logged). */
int tlsLinkRead(struct tls_session *s, void *out, size_t cap, size_t *n);

/* Seals `len` bytes of cleartext into records (kept for tlsLinkTake). */
int tlsLinkWrite(struct tls_session *s, const void *data, size_t len);

/* The records waiting for the stream (sealed responses, and what OpenSSL
 * answers on its own, such as a key update), in one libMalloc'ed buffer
 * for the caller (*data NULL and *len 0 if none). */
int tlsLinkTake(struct tls_session *s, void **data, size_t *len);

/* The connection closes: close_notify is offered to the stream if it
 * takes it now (never waited for). */
void tlsLinkClose(struct tls_session *s, uv_stream_t *stream);

/* Frees the session (once the connection is done with it). */
void tlsLinkFree(struct tls_session *s);

/* A CONNECT on a TLS connection: the session and `stream` (both owned
 * from now on) become a relay whose cleartext end is returned, an
 * ordinary stream for peerAccept (NULL on failure: both are closed). */
uv_stream_t *tlsLinkRelay(struct dqlite_node *n, struct tls_session *s,
                          uv_stream_t *stream);

/* Links open (handshaking or relaying), for the fd budget. */
unsigned tlsLinks(const struct dqlite_node *n);

void tlsDestroy(struct dqlite_node *n);

#endif /* SERVER_TLS_H */
