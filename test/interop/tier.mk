# The interop tier (test/interop, docs/interop.md): software we did not write
# against our nodes. `make check` runs check-interop: Debian's `dqlite` shell,
# go-dqlite's database/sql driver (sqlclient), cluster membership through
# go-dqlite's client package and the replay of test/vectors
# (ctl), all against interop-node, a tiny node program that uses only
# dqlite.h and links libdqlite.so.0 of this build mode.
# `make check-go-dqlite` builds go-dqlite's own test suite against our
# libdqlite.so.0 (of the build mode) and runs it (GO_DQLITE_REF=1: against
# Debian's reference libdqlite0 instead, for the baseline).
INTEROP_NODE := $(B)/test/interop-node
INTEROP_GO := $(B)/test/interop-sqlclient $(B)/test/interop-ctl
INTEROP_GOENV := GO111MODULE=off GOPATH=/usr/share/gocode \
	GOCACHE=$(CURDIR)/build/gocache GOFLAGS=

$(INTEROP_NODE): $(B)/obj/test/interop/node.o $(LIB_SO)
	@mkdir -p $(@D)
	$(CC) -o $@ $< -L$(B) -l:libdqlite.so.$(SONAME_MAJOR) \
		-Wl,-rpath,$(CURDIR)/$(B) $(LDFLAGS_COMMON) -lsqlite3

$(B)/obj/test/interop/node.o: test/interop/node.c include/dqlite.h | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -Iinclude -MMD -MP -c $< -o $@

$(B)/test/interop-%: $(wildcard test/interop/*/*.go) | deps
	@mkdir -p $(@D)
	cd test/interop/$* && $(INTEROP_GOENV) go build -o $(CURDIR)/$@ .

TEST_BINS += $(INTEROP_NODE) $(INTEROP_GO)
CHECK_TARGETS += check-interop

.PHONY: check-interop check-go-dqlite
# Three nodes in every build (INTEROP_NODES=1 narrows it to one).
INTEROP_NODES_MODE := $(or $(INTEROP_NODES),3)
check-interop: $(INTEROP_NODE) $(INTEROP_GO)
	INTEROP_NODES=$(INTEROP_NODES_MODE) test/interop/run.sh $(B)

# go-dqlite's own suite is part of `make check` in the release build (about
# 2.5 minutes); with SAN=1 it runs on demand only (ASan+UBSan library,
# sanitizer runtimes preloaded: much slower).
ifeq ($(MODE),release)
CHECK_TARGETS += check-go-dqlite
endif
check-go-dqlite: $(LIB_SO)
	test/interop/go-dqlite.sh $(if $(filter 1,$(GO_DQLITE_REF)),--reference,--lib $(B))
