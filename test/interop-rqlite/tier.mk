# The rqlite interop tier (test/interop-rqlite, docs/http-api.md, "Tests"):
# rqlite's HTTP/JSON API on a 3-node cluster of dqlited.
#
#   make check-rqlite     rqlite's documented requests and answers, run
#                         through the API's handlers (rqlite-gateway check),
#                         against the leader and through a follower, with
#                         and without auth.json, then over HTTP with curl,
#                         then without a quorum (part of `make check`, ~20 s)
#   make check-rqlite-js  the same cluster served over HTTP, driven by
#                         rqlite-js from npm (versions pinned by
#                         test/interop-rqlite/package-lock.json; `npm ci`
#                         runs first if node_modules is missing; part of `make check`)
RQLITE_GW := $(B)/test/rqlite-gateway

$(RQLITE_GW): $(B)/obj/test/interop-rqlite/gateway.o $(call link_archives_of,http)
	@mkdir -p $(@D)
	$(CC) -o $@ $(filter %.o,$^) $(call link_archives_of,http) \
		$(LDFLAGS_COMMON) $(call ext_libs_of,http) -lm

$(B)/obj/test/interop-rqlite/gateway.o: test/interop-rqlite/gateway.c \
		$(call incdir_of,http)/.stamp | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -Wno-missing-prototypes -Iinclude \
		-I$(call incdir_of,http) -Itest -MMD -MP -c $< -o $@

TEST_BINS += $(RQLITE_GW)
# rqlite-js (a client nobody here wrote) is part of make check too: the
# interop tier already needs the network for its packages, and npm ci
# installs the pinned versions (~15 s).
CHECK_TARGETS += check-rqlite check-rqlite-js

.PHONY: check-rqlite check-rqlite-js
check-rqlite: $(RQLITE_GW) $(B)/dqlited
	timeout -k 5 300 test/interop-rqlite/run.sh $(B)

check-rqlite-js: $(RQLITE_GW) $(B)/dqlited
	RQLITE_JS=1 timeout -k 5 600 test/interop-rqlite/run.sh $(B)

# Wire protocol (dqlite-bench) and HTTP (bench.js) figures side by side on
# a 3-node cluster (docs/http-api.md, "Benchmarks"); prints, asserts nothing.
.PHONY: bench-rqlite
bench-rqlite: $(RQLITE_GW) $(B)/dqlited $(B)/dqlite-bench
	RQLITE_BENCH=1 timeout -k 5 900 test/interop-rqlite/run.sh $(B)
