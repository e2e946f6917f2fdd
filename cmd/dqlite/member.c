/*
 * The shell's membership dot-commands, each one request to the leader:
 * .add (a node joins as spare, or with a role), .assign (voter, stand-by,
 * spare), .remove and .transfer. A node is named by its id (in hex, as
 * .cluster prints it) or by its address, looked up in the leader's
 * configuration. The server's refusals are printed as it words them.
 */
#include <string.h>
#include <strings.h>

#include "shell.h"

/* Whether a node reference is an address rather than an id. */
static bool memberIsAddress(const char *text)
{
    return strchr(text, ':') != NULL || text[0] == '@';
}

/* The id a reference names: parsed (hex), or looked up by address. 0 (and
 * reported) when there is none. */
static uint64_t memberNodeId(struct dqlite_client *cli, const char *text)
{
    uint64_t id = 0;
    if (memberIsAddress(text)) {
        return dotFindAddress(cli, text);
    }
    if (dotParseNumber(text, 16, &id) != 0 || id == 0) {
        shellError("bad node id \"%s\" (an id in hex as .cluster prints it, "
                   "or an address)",
                   text);
        return 0;
    }
    return id;
}

/* voter, stand-by (or standby), spare: DQLITE_VOTER... or -1 (reported). */
static int memberParseRole(const char *text)
{
    if (strcasecmp(text, "voter") == 0) {
        return DQLITE_VOTER;
    }
    if (strcasecmp(text, "stand-by") == 0 || strcasecmp(text, "standby") == 0) {
        return DQLITE_STANDBY;
    }
    if (strcasecmp(text, "spare") == 0) {
        return DQLITE_SPARE;
    }
    return shellError("bad role \"%s\" (voter, stand-by or spare)", text);
}

/* Closes the client after a failed `what`; returns -1. */
static int memberFail(struct dqlite_client *cli, const char *what,
                      const char *node)
{
    shellError("%s \"%s\": %s", what, node, dqlite_client_errmsg(cli));
    dqlite_client_close(cli);
    return -1;
}

int memberAdd(struct shell *sh, const char *id_text, const char *address,
              const char *role_text)
{
    uint64_t id;
    int role = role_text != NULL ? memberParseRole(role_text) : DQLITE_SPARE;
    struct dqlite_client *cli;
    if (role < 0) {
        return -1;
    }
    if (dotParseNumber(id_text, 16, &id) != 0 || id == 0) {
        return shellError("bad node id \"%s\" (hex, as .cluster prints ids)",
                          id_text);
    }
    if ((cli = dotClient(sh, NULL)) == NULL) {
        return -1;
    }
    if (dqlite_client_add(cli, id, address, role) != 0) {
        return memberFail(cli, "add node", id_text);
    }
    dqlite_client_close(cli);
    return 0;
}

/* The membership requests that name one existing node. */
enum member_op { MEMBER_ASSIGN, MEMBER_REMOVE, MEMBER_TRANSFER };

/* Resolves `node` through the leader and sends one request about it. */
static int memberOnNode(struct shell *sh, const char *node, enum member_op op,
                        int role)
{
    uint64_t id;
    int rv;
    struct dqlite_client *cli = dotClient(sh, NULL);
    if (cli == NULL) {
        return -1;
    }
    if ((id = memberNodeId(cli, node)) == 0) {
        dqlite_client_close(cli);
        return -1;
    }
    switch (op) {
    case MEMBER_ASSIGN:
        rv = dqlite_client_assign(cli, id, role);
        break;
    case MEMBER_REMOVE:
        rv = dqlite_client_remove(cli, id);
        break;
    default:
        rv = dqlite_client_transfer(cli, id);
        break;
    }
    if (rv != 0 && op == MEMBER_TRANSFER) {
        shellError("transfer: %s", dqlite_client_errmsg(cli));
        dqlite_client_close(cli);
        return -1;
    }
    if (rv != 0) {
        return memberFail(
            cli, op == MEMBER_ASSIGN ? "assign node" : "remove node", node);
    }
    dqlite_client_close(cli);
    return 0;
}

int memberAssign(struct shell *sh, const char *node, const char *role_text)
{
    int role = memberParseRole(role_text);
    return role < 0 ? -1 : memberOnNode(sh, node, MEMBER_ASSIGN, role);
}

int memberRemove(struct shell *sh, const char *node)
{
    return memberOnNode(sh, node, MEMBER_REMOVE, 0);
}

int memberTransfer(struct shell *sh, const char *node)
{
    return memberOnNode(sh, node, MEMBER_TRANSFER, 0);
}
