# dqlite, the shell. Links the client's archives only (the shell never
# contains the node), libedit for line editing, SQLite for the file server
# store and sqlite3_complete(). See cmd/dqlited/cmd.mk for why programs
# link module archives.
SHELL_SRCS := $(sort $(wildcard cmd/dqlite/*.c))
SHELL_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(SHELL_SRCS))

$(B)/dqlite: $(SHELL_OBJS) $(call link_archives_of,client)
	$(CC) -o $@ $(SHELL_OBJS) $(call link_archives_of,client) \
		$(LDFLAGS_COMMON) $(call ext_libs_of,client) -ledit -lm

$(B)/obj/cmd/dqlite/%.o: cmd/dqlite/%.c | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -Iinclude -DSHELL_VERSION='"$(VERSION)"' -MMD -MP -c $< -o $@

# --version prints the build, as dqlited's (cmd/dqlited/cmd.mk writes the
# header).
$(B)/obj/cmd/dqlite/main.o: $(B)/gen/dqlited_build.h
$(B)/obj/cmd/dqlite/main.o: CFLAGS_COMMON += -include $(B)/gen/dqlited_build.h

PROGRAMS += $(B)/dqlite
