# dqlite-bench, the benchmark tool (docs/performance.md). Links the client's
# archives only, plus SQLite (its --sqlite baseline) and pthreads. See
# cmd/dqlited/cmd.mk for why programs link module archives. `make bench`
# runs scripts/bench.sh (not part of `make check`).
BENCH_SRCS := $(sort $(wildcard cmd/bench/*.c))
BENCH_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(BENCH_SRCS))

$(B)/dqlite-bench: $(BENCH_OBJS) $(call link_archives_of,client)
	$(CC) -o $@ $(BENCH_OBJS) $(call link_archives_of,client) \
		$(LDFLAGS_COMMON) $(call ext_libs_of,client) -lm

$(B)/obj/cmd/bench/%.o: cmd/bench/%.c | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -Iinclude -MMD -MP -c $< -o $@

# --version prints the build (cmd/dqlited/cmd.mk writes the header).
$(B)/obj/cmd/bench/main.o: $(B)/gen/dqlited_build.h
$(B)/obj/cmd/bench/main.o: CFLAGS_COMMON += -include $(B)/gen/dqlited_build.h

PROGRAMS += $(B)/dqlite-bench

.PHONY: bench
bench: $(B)/dqlite-bench $(B)/dqlited $(B)/dqlite
	scripts/bench.sh $(B)

# The smoke run in `make check` (test/bench/smoke.sh): a 1-node cluster,
# a few hundred ops of every workload, exit status and output fields.
CHECK_TARGETS += check-bench-smoke

.PHONY: check-bench-smoke
check-bench-smoke: $(B)/dqlite-bench $(B)/dqlited
	timeout -k 5 300 test/bench/smoke.sh $(B)
