# The roles tier (test/roles, docs/roles.md): automatic role management
# (dqlite_node_set_auto_roles) on real nodes on loopback, in this process
# (and one forked child, to be killed), through the public dqlite.h and
# dqlite_client.h only, linked against libdqlite.so.0 of this build mode.
ROLES_SRCS := $(sort $(wildcard test/roles/*.c))
ROLES_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(ROLES_SRCS))
ROLES_BIN := $(B)/test/roles

$(ROLES_BIN): $(ROLES_OBJS) $(LIB_SO)
	@mkdir -p $(@D)
	$(CC) -o $@ $(ROLES_OBJS) -L$(B) -l:libdqlite.so.$(SONAME_MAJOR) \
		-Wl,-rpath,$(CURDIR)/$(B) $(LDFLAGS_COMMON) -lsqlite3

$(B)/obj/test/roles/%.o: test/roles/%.c | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -Iinclude -MMD -MP -c $< -o $@

-include $(ROLES_OBJS:.o=.d)

TEST_BINS += $(ROLES_BIN)
CHECK_TARGETS += check-roles

.PHONY: check-roles
check-roles: $(ROLES_BIN)
	timeout -k 5 150 $(ROLES_BIN)
