# The deterministic raft cluster simulator (test/sim): built against the
# raft and lib archives like raft's unit tests. `make check` runs
# SIM_SEEDS seeds; `make sim SEEDS=N [FIRST=S]` runs more and prints seeds/s.
SIM_SRCS := $(sort $(wildcard test/sim/*.c))
SIM_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(SIM_SRCS))
SIM_BIN := $(B)/test/sim
SIM_SEEDS ?= 2000
SIM_RUN_SEEDS := $(if $(filter command line,$(origin SEEDS)),$(SEEDS),10000)
FIRST ?= 1

$(SIM_BIN): $(SIM_OBJS) $(call link_archives_of,raft)
	@mkdir -p $(@D)
	$(CC) -o $@ $(SIM_OBJS) $(call link_archives_of,raft) $(LDFLAGS_COMMON) -lm

$(B)/obj/test/sim/%.o: test/sim/%.c $(call incdir_of,raft)/.stamp | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -Wno-missing-prototypes -Iinclude \
		-I$(call incdir_of,raft) -Itest -MMD -MP -c $< -o $@

TEST_BINS += $(SIM_BIN)
CHECK_TARGETS += check-sim

.PHONY: check-sim sim
check-sim: $(SIM_BIN)
	$(SIM_BIN) --seeds $(SIM_SEEDS)

sim: $(SIM_BIN)
	$(SIM_BIN) --seeds $(SIM_RUN_SEEDS) --first $(FIRST)
