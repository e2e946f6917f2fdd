# The client-live tier (test/clientlive, docs/clientlive.md): our C client
# (the client, proto and lib archives, include/dqlite_client.h) against real
# clusters (the node archives are linked too, for the test of a node started
# in this process on a listening socket it was given: dqlite_node_set_bind_fd): 3 dqlited nodes of this build mode, then 3 nodes of the
# reference (Debian's dqlite-demo on libdqlite 1.11.1; skipped, and said so,
# when it is not installed). test/clientlive/run.sh starts them on free
# loopback ports and bounds everything with timeouts.
CLIENTLIVE_SRCS := $(sort $(wildcard test/clientlive/*.c))
CLIENTLIVE_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(CLIENTLIVE_SRCS))
CLIENTLIVE_BIN := $(B)/test/clientlive

$(CLIENTLIVE_BIN): $(CLIENTLIVE_OBJS) $(call link_archives_of,server)
	@mkdir -p $(@D)
	$(CC) -o $@ $(CLIENTLIVE_OBJS) $(call link_archives_of,server) \
		$(LDFLAGS_COMMON) $(call ext_libs_of,server) -lm

$(B)/obj/test/clientlive/%.o: test/clientlive/%.c | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -Iinclude -MMD -MP -c $< -o $@

-include $(CLIENTLIVE_OBJS:.o=.d)

TEST_BINS += $(CLIENTLIVE_BIN)
CHECK_TARGETS += check-clientlive

.PHONY: check-clientlive
check-clientlive: $(CLIENTLIVE_BIN) $(B)/dqlited $(B)/dqlite
	timeout -k 5 300 test/clientlive/run.sh $(B)

# The same tier over TLS (test/clientlive/tls.sh): the shell and
# dqlite-bench (our client) against go-dqlite's app with WithTLS and
# SimpleTLSConfig (test/clientlive/tlsnode, built in GOPATH mode from
# Debian's go-dqlite sources, on Debian's libdqlite). The Go program does
# not load our library, so the tier runs in every build mode.
CLIENTLIVE_TLSNODE := $(B)/test/clientlive-tlsnode
CLIENTLIVE_GOENV := GO111MODULE=off GOPATH=/usr/share/gocode \
	GOCACHE=$(CURDIR)/build/gocache GOFLAGS= CGO_ENABLED=1 \
	CGO_LDFLAGS_ALLOW=-Wl,-z,now

$(CLIENTLIVE_TLSNODE): $(wildcard test/clientlive/tlsnode/*.go) | deps
	@mkdir -p $(@D)
	cd test/clientlive/tlsnode && $(CLIENTLIVE_GOENV) go build -o $(CURDIR)/$@ .

TEST_BINS += $(CLIENTLIVE_TLSNODE)
CHECK_TARGETS += check-clientlive-tls

.PHONY: check-clientlive-tls
check-clientlive-tls: $(CLIENTLIVE_TLSNODE) $(B)/dqlite $(B)/dqlite-bench
	timeout -k 5 300 test/clientlive/tls.sh $(B)
