# Benchmarks: built by `make` (so they never rot) but never run by
# `make check` -- they report figures, they do not pass or fail.
#   build/release/bench/raftio_append [dir]   group-commit figures
$(B)/bench/raftio_append: $(B)/obj/test/bench/raftio_append.o \
		$(call link_archives_of,raftio)
	@mkdir -p $(@D)
	$(CC) -o $@ $(filter %.o,$^) $(call link_archives_of,raftio) \
		$(LDFLAGS_COMMON) $(call ext_libs_of,raftio) -lm

$(B)/obj/test/bench/raftio_append.o: test/bench/raftio_append.c \
		$(call incdir_of,raftio)/.stamp | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -Wno-missing-prototypes -Iinclude \
		-I$(call incdir_of,raftio) -Itest -MMD -MP -c $< -o $@

TEST_BINS += $(B)/bench/raftio_append
