# Manual performance measurements (test/perf/): built by `make` so they
# never rot, never run by `make check` (they report figures, they do not
# pass or fail).
#   make perf-scan    event loop and raft heartbeats during a 1 GB scan
#                     (test/perf/scan_heartbeat.sh; docs/performance.md)
#   make perf-entry-cache  RSS right after a restart with large entries,
#                     per --entry-cache (docs/raft.md "Memory")
$(B)/perf/scan_probe: $(B)/obj/test/perf/scan_probe.o \
		$(call link_archives_of,client)
	@mkdir -p $(@D)
	$(CC) -o $@ $< $(call link_archives_of,client) $(LDFLAGS_COMMON) \
		$(call ext_libs_of,client) -lm

$(B)/obj/test/perf/scan_probe.o: test/perf/scan_probe.c | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -Iinclude -MMD -MP -c $< -o $@

TEST_BINS += $(B)/perf/scan_probe

.PHONY: perf-scan
perf-scan: $(B)/perf/scan_probe $(B)/dqlited $(B)/dqlite
	timeout -k 10 3600 test/perf/scan_heartbeat.sh $(B)

# RSS right after a restart with large raft entries, per --entry-cache
# (test/perf/entry_cache_rss.sh; docs/raft.md "Memory").
.PHONY: perf-entry-cache
perf-entry-cache: $(B)/dqlited $(B)/dqlite
	timeout -k 10 1800 test/perf/entry_cache_rss.sh $(B)
