# Integration tier: real dqlited processes on loopback ports, driven through
# the dqlite shell (test/integration/run.sh). `make check` runs it after the
# other tiers; the script bounds itself (timeout) and cleans up what it
# started.
CHECK_TARGETS += check-integration

.PHONY: check-integration
check-integration: $(B)/dqlited $(B)/dqlite $(B)/test/interop-ctl
	timeout -k 5 300 test/integration/run.sh $(B)
