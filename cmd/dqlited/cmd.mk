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
		$(LDFLAGS_COMMON) $(call ext_libs_of,server) -lm

$(B)/obj/cmd/dqlited/%.o: cmd/dqlited/%.c | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -Iinclude -MMD -MP -c $< -o $@

PROGRAMS += $(B)/dqlited
