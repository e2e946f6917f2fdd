# Integration tier: real dqlited processes on loopback ports, driven through
# the dqlite shell (test/integration/run.sh). `make check` runs it after the
# other tiers; the script bounds itself (timeout) and cleans up what it
# started.
CHECK_TARGETS += check-integration

# A hostile raft peer for the attack cases (cases_attack.sh).
RAFT_ATTACK_BIN := $(B)/test/raft-attack
$(RAFT_ATTACK_BIN): $(B)/obj/test/integration/raft_attack.o \
		$(call link_archives_of,raftio)
	@mkdir -p $(@D)
	$(CC) -o $@ $< $(call link_archives_of,raftio) $(LDFLAGS_COMMON) \
		$(call ext_libs_of,raftio)

$(B)/obj/test/integration/%.o: test/integration/%.c \
		$(call incdir_of,raftio)/.stamp | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -Iinclude -I$(call incdir_of,raftio) -MMD -MP \
		-c $< -o $@

TEST_BINS += $(RAFT_ATTACK_BIN)

.PHONY: check-integration
check-integration: $(B)/dqlited $(B)/dqlite $(RAFT_ATTACK_BIN) \
		$(B)/test/interop-ctl
	timeout -k 5 900 test/integration/run.sh $(B)
