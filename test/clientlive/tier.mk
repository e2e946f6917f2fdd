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
