# dqlited, the node daemon (one process = one node).
#
# Programs link the module archives rather than libdqlite.so: the binary
# then runs from build/<mode>/ with no rpath or LD_LIBRARY_PATH, installs
# as one file, and under SAN=1 the whole node is instrumented with it.
# (libdqlite.a is not used: it is built by extracting every module's
# objects into one directory, where same-named objects such as store.o of
# vfs and client overwrite each other.) Sources include public headers only.
DQLITED_SRCS := $(sort $(wildcard cmd/dqlited/*.c))
DQLITED_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(DQLITED_SRCS))

$(B)/dqlited: $(DQLITED_OBJS) $(call link_archives_of,server)
	$(CC) -o $@ $(DQLITED_OBJS) $(call link_archives_of,server) \
		$(LDFLAGS_COMMON) $(call ext_libs_of,server) -lsystemd -lm

# --version prints the build: `git describe` when the binary was built,
# kept in a header rewritten only when it changes (so options.o rebuilds
# after a commit, and nothing else does).
DQLITED_BUILD := $(shell git describe --tags --always --dirty 2>/dev/null || \
	echo $(VERSION))
$(B)/gen/dqlited_build.h: FORCE
	@mkdir -p $(@D)
	@echo '#define DQLITED_BUILD "$(DQLITED_BUILD)"' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
$(B)/obj/cmd/dqlited/options.o: $(B)/gen/dqlited_build.h
$(B)/obj/cmd/dqlited/options.o: CFLAGS_COMMON += -include $(B)/gen/dqlited_build.h
.PHONY: FORCE
FORCE:

$(B)/obj/cmd/dqlited/%.o: cmd/dqlited/%.c | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -Iinclude -MMD -MP -c $< -o $@

PROGRAMS += $(B)/dqlited
