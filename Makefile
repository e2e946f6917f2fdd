# dqlite in C: the whole build.
#
# Plain GNU Make. Every module under src/<module>/ becomes its own static
# archive ($(B)/ar/<module>.a) compiled against a private include directory
# that exposes only the modules docs/design.md §4 lets it use, so a forbidden
# `#include "vfs/..."` in src/raft fails to compile. Unit tests live in
# test/unit/<module>/ and link only their module's archive plus the archives
# it may use. Later tiers add themselves through test/<tier>/tier.mk.
#
#   make                 build everything (after installing missing packages)
#   make check           build and run every test tier
#   make check SAN=1     the same, built with ASan+UBSan (in build/asan)
#   make install PREFIX=/usr/local   (and make uninstall PREFIX=...)
#   make demo            the local 3-node demo cluster

SHELL := /bin/bash
.DEFAULT_GOAL := all

PREFIX ?= /usr/local
VERSION := 1.11.0
SONAME_MAJOR := 0

ifeq ($(SAN),1)
MODE := asan
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
else
MODE := release
SANFLAGS :=
endif
ifeq ($(COVERAGE),1)
MODE := coverage
SANFLAGS += --coverage
endif

B := build/$(MODE)
CC ?= cc
OPT ?= -O2 -g
CFLAGS_COMMON := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
	-Wstrict-prototypes -Wmissing-prototypes -Wvla -fPIC \
	-fvisibility=hidden $(OPT) $(SANFLAGS)
LDFLAGS_COMMON := $(SANFLAGS) -pthread

# ---------------------------------------------------------------- modules
# The dependency rules of docs/design.md §4: which modules each module may include.
# (lib is a leaf; server may use every module.)
ALL_MODULES := lib raft proto vfs raftio repl client http server
USES_lib :=
USES_raft := lib
USES_proto := lib
USES_vfs := lib
USES_raftio := raft lib
USES_repl := vfs raft lib
USES_client := proto lib
USES_http := client proto lib
USES_server := repl raftio http client raft proto vfs lib
# External libraries each module links against (for its unit tests).
EXT_lib :=
EXT_raft :=
EXT_proto :=
EXT_vfs := -lsqlite3
EXT_raftio := -luv -llz4
EXT_repl := -lsqlite3
EXT_client := -lsqlite3 -lssl -lcrypto
EXT_http := -lmicrohttpd -lgnutls -ljansson
EXT_server := -lsqlite3 -luv -llz4 -lssl -lcrypto -lmicrohttpd -lgnutls \
	-ljansson

# Modules that exist (have sources) so far.
MODULES := $(foreach m,$(ALL_MODULES),$(if $(wildcard src/$(m)/*.c),$(m)))

srcs_of = $(sort $(wildcard src/$(1)/*.c))
objs_of = $(patsubst src/%.c,$(B)/obj/%.o,$(call srcs_of,$(1)))
archive_of = $(B)/ar/$(1).a
# A module's own archive followed by those it may use, in link order.
link_archives_of = $(call archive_of,$(1)) \
	$(foreach u,$(USES_$(1)),$(if $(filter $(u),$(MODULES)),$(call archive_of,$(u))))
ext_libs_of = $(sort $(EXT_$(1)) $(foreach u,$(USES_$(1)),$(EXT_$(u))))

# Private include dir per module: symlinks to itself and its allowed modules.
incdir_of = $(B)/inc/$(1)
define module_rules
$(call incdir_of,$(1))/.stamp:
	@rm -rf $(call incdir_of,$(1)) && mkdir -p $(call incdir_of,$(1))
	@for u in $(1) $(USES_$(1)); do \
		ln -s $(CURDIR)/src/$$$$u $(call incdir_of,$(1))/$$$$u; done
	@touch $$@

$(B)/obj/$(1)/%.o: src/$(1)/%.c $(call incdir_of,$(1))/.stamp | deps
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS_COMMON) -Iinclude -I$(call incdir_of,$(1)) -MMD -MP \
		-c $$< -o $$@

$(call archive_of,$(1)): $(call objs_of,$(1))
	@mkdir -p $$(@D)
	@rm -f $$@
	ar rcs $$@ $$^
endef
$(foreach m,$(MODULES),$(eval $(call module_rules,$(m))))

ARCHIVES := $(foreach m,$(MODULES),$(call archive_of,$(m)))

# ---------------------------------------------------------------- library
ALL_EXT_LIBS := -lsqlite3 -luv -llz4 -lssl -lcrypto -lmicrohttpd -lgnutls \
	-ljansson
LIB_SO := $(B)/libdqlite.so.$(SONAME_MAJOR)
LIB_A := $(B)/libdqlite.a

$(LIB_SO): $(ARCHIVES)
	$(CC) -shared -Wl,-soname,libdqlite.so.$(SONAME_MAJOR) -Wl,-z,defs \
		-o $@ -Wl,--whole-archive $(ARCHIVES) -Wl,--no-whole-archive \
		$(LDFLAGS_COMMON) $(ALL_EXT_LIBS)
	ln -sf libdqlite.so.$(SONAME_MAJOR) $(B)/libdqlite.so

# Modules have objects of the same name (conn.o, log.o, ...): each module's
# are extracted apart and renamed <module>-<name>.o before joining.
$(LIB_A): $(ARCHIVES)
	@rm -f $@
	@rm -rf $(B)/tmp-ar && mkdir -p $(B)/tmp-ar && cd $(B)/tmp-ar && \
		for a in $(ARCHIVES); do m=$$(basename $$a .a); mkdir $$m && \
			(cd $$m && ar x $(CURDIR)/$$a && \
			 for o in *.o; do mv $$o ../$$m-$$o; done); done && \
		ar rcs $(CURDIR)/$@ *.o
	@rm -rf $(B)/tmp-ar

$(B)/dqlite.pc: dqlite.pc.in
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

# ---------------------------------------------------------------- tests
CRITERION_LIBS := -lcriterion
TEST_BINS :=
CHECK_TARGETS :=

define unit_rules
$(B)/test/unit-$(1): $(patsubst %.c,$(B)/obj/%.o,$(wildcard test/unit/$(1)/*.c)) \
		$(call link_archives_of,$(1))
	@mkdir -p $$(@D)
	$$(CC) -o $$@ $$(filter %.o,$$^) $(call link_archives_of,$(1)) \
		$$(LDFLAGS_COMMON) $(CRITERION_LIBS) $(call ext_libs_of,$(1)) -lm

$(B)/obj/test/unit/$(1)/%.o: test/unit/$(1)/%.c $(call incdir_of,$(1))/.stamp | deps
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS_COMMON) -Wno-missing-prototypes -Iinclude \
		-I$(call incdir_of,$(1)) -Itest -MMD -MP -c $$< -o $$@

.PHONY: check-unit-$(1)
check-unit-$(1): $(B)/test/unit-$(1)
	$(B)/test/unit-$(1) $$(CRITERION_FLAGS)
endef
UNIT_MODULES := $(foreach m,$(MODULES),$(if $(wildcard test/unit/$(m)/*.c),$(m)))
$(foreach m,$(UNIT_MODULES),$(eval $(call unit_rules,$(m))))
TEST_BINS += $(foreach m,$(UNIT_MODULES),$(B)/test/unit-$(m))
CHECK_TARGETS += $(foreach m,$(UNIT_MODULES),check-unit-$(m))

# Tiers and tools beyond unit tests register themselves here. Each fragment
# may add to TEST_BINS, CHECK_TARGETS, PROGRAMS and FUZZ_TARGETS.
PROGRAMS :=
FUZZ_TARGETS :=
-include $(sort $(wildcard test/*/tier.mk cmd/*/cmd.mk))


# ---------------------------------------------------------------- fuzzing
# test/fuzz/<module>_<what>.c is a libFuzzer target for <module>. It builds
# twice: with clang's libFuzzer (make fuzz, make fuzz-ci) and with the normal
# compiler plus standalone.c, which replays test/fuzz/corpus/<target>/ (seeds
# and kept crash inputs) in every `make check`.
FUZZ_SECONDS ?= 30
FUZZ_CC ?= clang
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all
FUZZ_SRCS := $(sort $(wildcard test/fuzz/*_*.c))
FUZZ_NAMES := $(patsubst test/fuzz/%.c,%,$(FUZZ_SRCS))
fuzz_module = $(firstword $(subst _, ,$(1)))
fuzz_all_srcs = $(foreach u,$(call fuzz_module,$(1)) $(USES_$(call fuzz_module,$(1))),$(call srcs_of,$(u)))

define fuzz_rules
build/fuzz/$(1): test/fuzz/$(1).c $(call fuzz_all_srcs,$(1)) | deps
	@mkdir -p $$(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -Iinclude -I$(call incdir_of,$(call fuzz_module,$(1))) \
		-Itest -o $$@ $$(filter %.c,$$^) $(call ext_libs_of,$(call fuzz_module,$(1)))

build/fuzz/$(1): $(call incdir_of,$(call fuzz_module,$(1)))/.stamp

$(B)/test/replay-$(1): $(B)/obj/test/fuzz/$(1).o $(B)/obj/test/fuzz/standalone.o \
		$(call link_archives_of,$(call fuzz_module,$(1)))
	@mkdir -p $$(@D)
	$$(CC) -o $$@ $$(filter %.o,$$^) $(call link_archives_of,$(call fuzz_module,$(1))) \
		$$(LDFLAGS_COMMON) $(call ext_libs_of,$(call fuzz_module,$(1))) -lm

$(B)/obj/test/fuzz/$(1).o: test/fuzz/$(1).c $(call incdir_of,$(call fuzz_module,$(1)))/.stamp | deps
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS_COMMON) -Wno-missing-prototypes -Iinclude \
		-I$(call incdir_of,$(call fuzz_module,$(1))) -Itest -MMD -MP -c $$< -o $$@

.PHONY: check-replay-$(1) fuzz-$(1)
check-replay-$(1): $(B)/test/replay-$(1)
	$(B)/test/replay-$(1) test/fuzz/corpus/$(1)

fuzz-$(1): build/fuzz/$(1)
	@mkdir -p build/fuzz/work-$(1)
	build/fuzz/$(1) -max_total_time=$$(FUZZ_SECONDS) -rss_limit_mb=2048 \
		-timeout=10 -print_final_stats=1 -artifact_prefix=build/fuzz/crash-$(1)- \
		build/fuzz/work-$(1) test/fuzz/corpus/$(1)
endef
$(foreach f,$(FUZZ_NAMES),$(eval $(call fuzz_rules,$(f))))

$(B)/obj/test/fuzz/standalone.o: test/fuzz/standalone.c | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_COMMON) -Wno-missing-prototypes -c $< -o $@

TEST_BINS += $(foreach f,$(FUZZ_NAMES),$(B)/test/replay-$(f))
CHECK_TARGETS += $(foreach f,$(FUZZ_NAMES),check-replay-$(f))

# Runs every fuzz target for FUZZ_SECONDS each (a crash stops the run and
# leaves build/fuzz/crash-<target>-*: copy it into the corpus as a regression).
# With -jN, N targets fuzz at once (each libFuzzer process uses one core).
fuzz: $(foreach f,$(FUZZ_NAMES),fuzz-$(f))

# ---------------------------------------------------------------- targets
.PHONY: all deps check lint format format-check include-check install \
	uninstall demo clean fuzz

deps:
	@scripts/deps.sh

all: deps $(LIB_SO) $(LIB_A) $(B)/dqlite.pc $(PROGRAMS) $(TEST_BINS)

# Tests run one tier after another; the last line is a runner summary.
check: all
	@scripts/check-run.sh $(B) lint-tests $(CHECK_TARGETS)

.PHONY: lint-tests check-exports coverage
lint-tests:
	@test/lint/run.sh

# Every DQLITE_API function is in both libraries; nothing else is exported.
check-exports: $(LIB_SO) $(LIB_A)
	@scripts/check-exports.sh $(B)

CHECK_TARGETS += check-exports

format:
	@clang-format -i $$(scripts/sources.sh)

format-check:
	@scripts/format-check.sh

include-check:
	@scripts/check-includes.sh

lint: format-check include-check

# Line coverage of one module by its tests (gcov; build/coverage).
MODULE ?= raft
coverage:
	@scripts/coverage.sh $(MODULE)

# The installed dqlite.pc is generated for the PREFIX of this install (the
# one in $(B) was made for the PREFIX of the build). uninstall removes the
# files install wrote, and the directories it made if they end up empty.
PC_SED = sed -e 's|@PREFIX@|$(1)|' -e 's|@VERSION@|$(VERSION)|' dqlite.pc.in
INSTALLED_HEADERS := $(notdir $(wildcard include/*.h))
MAN_PAGES := share/man/man8/dqlited.8 share/man/man1/dqlite.1 \
	share/man/man1/dqlite-bench.1
INSTALLED_FILES := $(addprefix include/,$(INSTALLED_HEADERS)) \
	lib/libdqlite.so.$(SONAME_MAJOR) lib/libdqlite.so lib/libdqlite.a \
	lib/pkgconfig/dqlite.pc $(addprefix bin/,$(notdir $(PROGRAMS))) \
	$(MAN_PAGES) lib/systemd/system/dqlited.service \
	share/doc/dqlite/dqlited.conf

# Packaging (docs/operations.md): manual pages made from each program's
# --help (scripts/man.sh), the systemd unit and the example configuration.
$(B)/man/dqlited.8: $(B)/dqlited scripts/man.sh
	@mkdir -p $(@D)
	scripts/man.sh $< 8 $(VERSION) > $@
$(B)/man/%.1: $(B)/% scripts/man.sh
	@mkdir -p $(@D)
	scripts/man.sh $< 1 $(VERSION) > $@
# (For check-packaging; install writes the unit for its own PREFIX.)
$(B)/dqlited.service: packaging/dqlited.service.in
	sed -e 's|@BINDIR@|$(PREFIX)/bin|' $< > $@
PACKAGING := $(B)/man/dqlited.8 $(B)/man/dqlite.1 $(B)/man/dqlite-bench.1 \
	$(B)/dqlited.service

# The unit passes systemd-analyze verify, the pages man's checks, and the
# example configuration dqlited's own parser.
.PHONY: check-packaging
check-packaging: $(PACKAGING)
	@scripts/check-packaging.sh $(B)
CHECK_TARGETS += check-packaging

install: all $(PACKAGING)
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include \
		$(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/man/man8 \
		$(DESTDIR)$(PREFIX)/lib/systemd/system \
		$(DESTDIR)$(PREFIX)/share/doc/dqlite
	install -m 644 $(B)/man/dqlited.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 644 $(B)/man/dqlite.1 $(B)/man/dqlite-bench.1 \
		$(DESTDIR)$(PREFIX)/share/man/man1/
	sed -e 's|@BINDIR@|$(PREFIX)/bin|' packaging/dqlited.service.in \
		> $(DESTDIR)$(PREFIX)/lib/systemd/system/dqlited.service
	chmod 644 $(DESTDIR)$(PREFIX)/lib/systemd/system/dqlited.service
	install -m 644 packaging/dqlited.conf $(DESTDIR)$(PREFIX)/share/doc/dqlite/
	install -m 644 include/*.h $(DESTDIR)$(PREFIX)/include/
	install -m 755 $(LIB_SO) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libdqlite.so.$(SONAME_MAJOR) $(DESTDIR)$(PREFIX)/lib/libdqlite.so
	install -m 644 $(LIB_A) $(DESTDIR)$(PREFIX)/lib/
	$(call PC_SED,$(PREFIX)) > $(DESTDIR)$(PREFIX)/lib/pkgconfig/dqlite.pc
	chmod 644 $(DESTDIR)$(PREFIX)/lib/pkgconfig/dqlite.pc
	$(if $(PROGRAMS),install -m 755 $(PROGRAMS) $(DESTDIR)$(PREFIX)/bin/)

uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/,$(INSTALLED_FILES))
	-rmdir $(DESTDIR)$(PREFIX)/lib/pkgconfig \
		$(DESTDIR)$(PREFIX)/lib/systemd/system \
		$(DESTDIR)$(PREFIX)/lib/systemd $(DESTDIR)$(PREFIX)/lib \
		$(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin \
		$(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man8 \
		$(DESTDIR)$(PREFIX)/share/man $(DESTDIR)$(PREFIX)/share/doc/dqlite \
		$(DESTDIR)$(PREFIX)/share/doc $(DESTDIR)$(PREFIX)/share 2>/dev/null

demo:
	@scripts/demo.sh

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
