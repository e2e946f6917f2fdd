# Install tier: `make install PREFIX=<temp>` after a build for another
# PREFIX, a program built with pkg-config against the installed tree, then
# `make uninstall` (test/install/run.sh).
CHECK_TARGETS += check-install

.PHONY: check-install
check-install: all
	+timeout -k 5 300 test/install/run.sh $(B) "$(SANFLAGS)"
