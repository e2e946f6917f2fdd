# The upgrade tier (test/upgrade, docs/disk-format.md §5): dqlite 1.11 data
# directories made by Debian's libdqlite0 1.11.1 through go-dqlite's app
# package (test/upgrade/node, the package dqlite-demo is built on), then the
# same program on this build's libdqlite.so.0 (LD_LIBRARY_PATH), which must
# convert them and serve every key; 1 node (closed segments, open segments,
# snapshots), 3 nodes, and a damaged directory that must be refused.
# Release build only: the Go program cannot load the ASan library without
# preloading its runtime; under SAN=1 unit-server's upgrade tests cover the
# conversion on the fixtures of test/upgrade/fixtures.
UPGRADE_NODE := $(B)/test/upgrade-node
UPGRADE_GOENV := GO111MODULE=off GOPATH=/usr/share/gocode \
	GOCACHE=$(CURDIR)/build/gocache GOFLAGS= CGO_ENABLED=1 \
	CGO_LDFLAGS_ALLOW=-Wl,-z,now

$(UPGRADE_NODE): $(wildcard test/upgrade/node/*.go) | deps
	@mkdir -p $(@D)
	cd test/upgrade/node && $(UPGRADE_GOENV) go build -o $(CURDIR)/$@ .

.PHONY: check-upgrade upgrade-fixtures
ifeq ($(MODE),release)
TEST_BINS += $(UPGRADE_NODE)
CHECK_TARGETS += check-upgrade
endif
check-upgrade: $(UPGRADE_NODE) $(LIB_SO)
	timeout -k 5 300 test/upgrade/run.sh $(B)

# Rewrites test/upgrade/fixtures/*.tar.xz (needs the reference packages).
upgrade-fixtures: $(UPGRADE_NODE)
	test/upgrade/mkfixtures.sh $(B)
