# Fault-injection tier (test/faults, docs/faults.md): the checkers' unit
# tests, the workload and checker programs, the harness-only node
# (faults-node) and test/faults/run.sh, which starts nodes in network
# namespaces, injects faults on a seeded schedule and checks the history.
#   make check            runs the checker tests and a short smoke run
#   make faults           runs a longer battery (SEEDS=, DURATION=, NODES=)
FAULTS_SRC := test/faults/history.c test/faults/check_register.c \
	test/faults/check_simple.c test/faults/check_append.c \
	test/faults/check_runaway.c test/faults/check_follower.c
FAULTS_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(FAULTS_SRC))
FAULTS_CFLAGS := $(CFLAGS_COMMON) -Iinclude -Itest/faults -MMD -MP

$(B)/obj/test/faults/%.o: test/faults/%.c | deps
	@mkdir -p $(@D)
	$(CC) $(FAULTS_CFLAGS) -c $< -o $@

$(B)/test/faults-checkers: $(FAULTS_OBJ) $(B)/obj/test/faults/test_checkers.o
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(LDFLAGS_COMMON) $(CRITERION_LIBS)

$(B)/test/faults-check: $(FAULTS_OBJ) $(B)/obj/test/faults/check_main.o
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(LDFLAGS_COMMON)

TEST_BINS += $(B)/test/faults-checkers $(B)/test/faults-check
CHECK_TARGETS += check-faults-checkers

.PHONY: check-faults-checkers
check-faults-checkers: $(B)/test/faults-checkers
	$(B)/test/faults-checkers

-include $(B)/obj/test/faults/*.d

FAULTS_WL_OBJ := $(B)/obj/test/faults/workload.o $(B)/obj/test/faults/ops.o \
	$(B)/obj/test/faults/ops_runaway.o $(B)/obj/test/faults/history.o
$(B)/test/faults-workload: $(FAULTS_WL_OBJ) $(call link_archives_of,client)
	@mkdir -p $(@D)
	$(CC) -o $@ $(FAULTS_WL_OBJ) $(call link_archives_of,client) \
		$(LDFLAGS_COMMON) $(call ext_libs_of,client)

TEST_BINS += $(B)/test/faults-workload

# -Wl,--export-dynamic-symbol: the lease-drift bug's clock_gettime must
# replace libc's in libuv and libdqlite too (test/faults/node.c).
$(B)/test/faults-node: $(B)/obj/test/faults/node.o $(LIB_SO)
	@mkdir -p $(@D)
	$(CC) -o $@ $< -L$(B) -l:libdqlite.so.$(SONAME_MAJOR) \
		-Wl,-rpath,$(CURDIR)/$(B) -Wl,--export-dynamic-symbol=clock_gettime \
		$(LDFLAGS_COMMON) -lsqlite3

TEST_BINS += $(B)/test/faults-node

# faults-node-group: faults-node with the write queue's planted bug
# (planted_group.c recompiles src/server/gateway_group.c with it), linked
# against the archives so that its copy replaces the library's.
$(B)/obj/test/faults/planted_group.o: test/faults/planted_group.c \
		src/server/gateway_group.c $(call incdir_of,server)/.stamp | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -Iinclude -I$(call incdir_of,server) -MMD -MP \
		-c $< -o $@

$(B)/test/faults-node-group: $(B)/obj/test/faults/node.o \
		$(B)/obj/test/faults/planted_group.o $(call link_archives_of,server)
	@mkdir -p $(@D)
	$(CC) -o $@ $(filter %.o,$^) $(call link_archives_of,server) \
		$(LDFLAGS_COMMON) $(call ext_libs_of,server)

TEST_BINS += $(B)/test/faults-node-group

# faults-node-read: faults-node with the follower-read gate's planted bugs
# (planted_read.c recompiles src/server/gateway_read.c with them).
$(B)/obj/test/faults/planted_read.o: test/faults/planted_read.c \
		src/server/gateway_read.c $(call incdir_of,server)/.stamp | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -Iinclude -I$(call incdir_of,server) -MMD -MP \
		-c $< -o $@

$(B)/test/faults-node-read: $(B)/obj/test/faults/node.o \
		$(B)/obj/test/faults/planted_read.o $(call link_archives_of,server)
	@mkdir -p $(@D)
	$(CC) -o $@ $(filter %.o,$^) $(call link_archives_of,server) \
		$(LDFLAGS_COMMON) $(call ext_libs_of,server)

TEST_BINS += $(B)/test/faults-node-read

# The delay fault's packet delayer (NFQUEUE, where there is no sch_netem)
# and the torn fault's segment-tail damager.
$(B)/test/faults-delay: $(B)/obj/test/faults/delay.o
	@mkdir -p $(@D)
	$(CC) -o $@ $< $(LDFLAGS_COMMON)

$(B)/test/faults-torn: $(B)/obj/test/faults/torn.o
	@mkdir -p $(@D)
	$(CC) -o $@ $< $(LDFLAGS_COMMON)

TEST_BINS += $(B)/test/faults-delay $(B)/test/faults-torn

FAULTS_BINS := $(B)/test/faults-workload $(B)/test/faults-check \
	$(B)/test/faults-node $(B)/test/faults-delay $(B)/test/faults-torn \
	$(B)/test/faults-node-group $(B)/test/faults-node-read $(B)/dqlited

# The smoke run of `make check`: 3 nodes (also under SAN=1), all four
# workloads, kills and partitions for 20 s (FAULTS_SMOKE_WORKLOADS narrows,
# FAULTS_SMOKE_NODES changes the count).
FAULTS_SMOKE_WORKLOADS ?= register bank set append
FAULTS_SMOKE_NODES ?= 3
CHECK_TARGETS += check-faults-smoke

.PHONY: check-faults-smoke faults
check-faults-smoke: $(FAULTS_BINS)
	SEED=$${SEED:-$$(( $$(date +%s) % 100000 ))} DURATION=20 NODES=$(FAULTS_SMOKE_NODES) \
		WORKLOADS="$(FAULTS_SMOKE_WORKLOADS)" FAULTS="kill partition" \
		timeout -k 5 110 test/faults/run.sh $(B)

# The longer battery (test/faults/battery.sh): SEEDS runs (seeds SEED,
# SEED+1, ...) of DURATION seconds each on NODES nodes, all workloads and
# all faults (delay and torn included) unless WORKLOADS= / FAULTS= say
# otherwise; every run prints its seed, and the battery ends with the
# operations invoked and acknowledged, the faults injected by kind and the
# anomalies found over all runs. Defaults: 3 runs of 60 s, about 4 minutes;
# the last run goes over TLS (run.sh TLS=1; TLS=0|1 sets every run).
# (SEEDS is shared with `make sim`: each tier takes it from the command
# line only, with its own default.)
FAULTS_RUNS := $(if $(filter command line,$(origin SEEDS)),$(SEEDS),3)
DURATION ?= 60
NODES ?= 5
faults: $(FAULTS_BINS)
	DURATION=$(DURATION) NODES=$(NODES) test/faults/battery.sh $(B) $(FAULTS_RUNS)

# The planted bugs (test/faults/planted.sh): passes only when the harness
# catches each planted bug (amnesia, stale-reads, lease-drift of
# faults-node; group-lost-member and group-early-answer of faults-node-group;
# follower-no-read-index and bounded-ignores-bound of faults-node-read) with
# anomalies.
.PHONY: faults-planted
faults-planted: $(FAULTS_BINS)
	test/faults/planted.sh $(B)
