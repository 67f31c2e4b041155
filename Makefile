# faqbot -- build, test, fuzz, bench.
#
#   make            ./faqbot (optimised)
#   make test       the whole suite: unit tests and the CLI tests under ASan and
#                   UBSan, `faqbot check faq/`, the dev-set score, fuzz smoke runs
#   make test-stress  the suite beside stress-ng, and two copies at once (not CI)
#   make test-deb   the Debian package: built, lintian-clean, installed and run
#                   in a clean Debian container (root, podman; not in make test)
#   make bench      classification speed against a Python `re` baseline, and RSS
#   make lint       include directions, banned functions, clang-format
#   make fuzz       the libFuzzer targets (clang), in build/fuzz/
#   make install    PREFIX (/usr/local), DESTDIR, SYSCONFDIR (/etc): see below
#
# Sources: every .c in src/'s layer folders (lib core app net net/matrix
# net/irc, docs/ARCHITECTURE.md) is part of the program; src/app/main.c is
# the only one not linked into unit tests and fuzz targets. Each folder is on
# the include path, so a source says #include "faq.h" wherever it lives;
# object files keep flat names (build/rel/faq.o: no two modules share one). tests/unit/test_X.c is one cmocka
# program a module, with tests/unit/helpers.c linked in; tests/fuzz/fuzz_X.c one libFuzzer target with its seed
# corpus in tests/fuzz/corpus/X/ and the fixtures tests/fuzz/seeds names. New files are picked up without editing this.

CC      ?= cc
CLANG   ?= clang
PREFIX  ?= /usr/local
VERSION := 0.1.0
# Where `make install` puts things (see the install target). SYSCONFDIR is
# /etc whatever PREFIX is: the README, the systemd unit and the example all
# name /etc/faqbot/faqbot.ini, and faqbot has no compiled-in config path.
BINDIR     ?= $(PREFIX)/bin
DATADIR    ?= $(PREFIX)/share/faqbot
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d

# libcurl is compiled against but not linked: src/lib/curl_dl.c loads it at the
# first network use, so offline commands do not carry its TLS libraries.
PKGS    := libpcre2-8 jansson yaml-0.1 libutf8proc inih
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) libcurl 2>/dev/null) -Ibuild
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -ldl
TEST_LIBS  := $(shell pkg-config --libs cmocka 2>/dev/null)

WARN    := -Wall -Wextra -Werror -Wpedantic -Wmissing-prototypes -Wvla \
           -Wshadow -Wstrict-prototypes -Wno-unused-parameter
CSTD    := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
CFLAGS  ?= -O2 -g
# CPPFLAGS and LDFLAGS from the environment go into the program (not the
# sanitizer builds): a package build passes its hardening flags in them
# (dpkg-buildflags; debian/rules asks for hardening=+all).
SRC      := $(sort $(wildcard src/*/*.c src/*/*/*.c))
LIB_SRC  := $(filter-out src/app/main.c,$(SRC))
HDR      := $(wildcard src/*/*.h src/*/*/*.h)
# the layer folders, each on the include path; make finds a source by vpath
SRC_DIRS := $(sort $(patsubst %/,%,$(dir $(SRC) $(HDR))))
INC      := $(addprefix -I,$(SRC_DIRS))
vpath %.c $(SRC_DIRS)

ALL_CFLAGS = $(CSTD) $(WARN) -DFAQBOT_VERSION='"$(VERSION)"' \
             -DFAQBOT_DATADIR='"$(DATADIR)"' $(INC) $(PKG_CFLAGS) $(CFLAGS)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))

OBJ      := $(patsubst %.c,build/rel/%.o,$(notdir $(SRC)))
ASAN_OBJ := $(patsubst %.c,build/asan/%.o,$(notdir $(SRC)))
ASAN_LIB := $(filter-out build/asan/main.o,$(ASAN_OBJ))
UNITS    := $(UNIT_SRC:tests/unit/%.c=build/asan/%)
FUZZERS  := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
FUZZ_OBJ := $(patsubst %.c,build/fuzz/obj/%.o,$(notdir $(LIB_SRC)))
# the scenarios' transports with a stand-in core (tests/integ/*_driver.c)
DRIVERS  := $(patsubst tests/integ/%.c,build/asan/%,$(wildcard tests/integ/*_driver.c))
NPROC    := $(shell nproc 2>/dev/null || echo 2)

SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# One short line a file ("  CC      src/core/faq.c"), so a warning stands out;
# V=1 shows the whole commands.
ifeq ($(V),1)
Q :=
say = @:
else
Q := @
say = @printf '  %-7s %s\n'
endif

.PHONY: all test test-build test-stress test-deb unit clitest fuzz fuzz-smoke score check bench lint install clean
all: faqbot

faqbot: $(OBJ)
	$(say) LD $@
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(OBJ) $(PKG_LIBS)

# ICU's confusables, as a table src/core/views.c compiles in: ICU is needed to
# build, not to run (tools/gen_confusables.c says why).
build/confusables.inc: tools/gen_confusables.c | build/rel
	$(say) GEN $@
	$(Q)$(CC) -O1 -o build/gen_confusables $< $(shell pkg-config --cflags --libs icu-i18n icu-uc)
	$(Q)build/gen_confusables > $@.tmp && mv $@.tmp $@

build/rel/%.o: %.c $(HDR) build/confusables.inc | build/rel
	$(say) CC $<
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

build/asan/%.o: %.c $(HDR) build/confusables.inc | build/asan
	$(say) CC-ASAN $<
	$(Q)$(CC) $(ALL_CFLAGS) -O1 $(SAN) -c -o $@ $<

build/asan/faqbot: $(ASAN_OBJ)
	$(say) LD $@
	$(Q)$(CC) $(SAN) -o $@ $(ASAN_OBJ) $(PKG_LIBS)

# tests/unit/helpers.c (temporary folders, whole files, the mini FAQ) is
# linked into every unit test.
UNIT_HELPERS := build/asan/unit_helpers.o
$(UNIT_HELPERS): tests/unit/helpers.c tests/unit/helpers.h $(HDR) | build/asan
	$(say) CC-TEST $<
	$(Q)$(CC) $(ALL_CFLAGS) -O1 $(SAN) -c -o $@ $<

build/asan/test_%: tests/unit/test_%.c $(UNIT_HELPERS) $(ASAN_LIB) $(HDR)
	$(say) CC-TEST $<
	$(Q)$(CC) $(ALL_CFLAGS) -O1 $(SAN) -o $@ $< $(UNIT_HELPERS) $(ASAN_LIB) $(PKG_LIBS) $(TEST_LIBS)

# The library for the fuzz targets, compiled once (not once a target) with
# the fuzzer's coverage; each target links its own main against it.
FUZZ_CFLAGS = $(CSTD) -DFAQBOT_VERSION='"$(VERSION)"' $(INC) $(PKG_CFLAGS) -g -O1

$(FUZZ_OBJ): build/fuzz/obj/%.o: %.c $(HDR) build/confusables.inc | build/fuzz/obj
	$(say) CC-FUZZ $<
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<

$(FUZZERS): build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJ) $(HDR) | build/fuzz
	$(say) FUZZ $<
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_OBJ) $(PKG_LIBS)

# A scenario driver (a transport with the one stand-in core,
# tests/integ/standin.c), as tests/integ/harness.inc's build_stand_in builds
# it (it rebuilds one only when it is older than the sources): built here,
# before the scenarios run side by side, so none of them compiles it.
STANDIN := tests/integ/standin.c tests/integ/standin.h
$(DRIVERS): build/asan/%_driver: tests/integ/%_driver.c $(STANDIN) $(ASAN_LIB) $(HDR)
	$(say) CC-TEST $<
	$(Q)$(CC) $(CSTD) $(WARN) -DFAQBOT_VERSION='"test"' $(INC) $(PKG_CFLAGS) -O1 -g $(SAN) \
	  -o $@ $< tests/integ/standin.c $(ASAN_LIB) $(PKG_LIBS)

build/rel build/asan build/fuzz build/fuzz/obj:
	mkdir -p $@

# The whole suite. Each part prints its own summary; the last line is
# "N passed, N failed" over the parts.
# What it runs is built first, NPROC jobs at a time whatever make's own -j.
test:
	@$(MAKE) --no-print-directory -j$(NPROC) test-build
	@bash tests/run.sh

test-build: build/asan/faqbot $(UNITS) $(FUZZERS) $(DRIVERS) build/bench/bench_classify

# make bench's classifier loop, built with every test build so that a change
# of the core's contract cannot leave it behind unbuilt
build/bench/bench_classify: bench/bench_classify.c $(filter-out build/rel/main.o,$(OBJ))
	$(say) LD $@
	$(Q)mkdir -p build/bench
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(PKG_LIBS)

# The suite with the machine loaded: beside stress-ng --cpu (every core),
# then two copies at once in two copies of the tree (tests/stress.sh). For
# you to run before calling a change to the tests done; not part of CI.
test-stress:
	@$(MAKE) --no-print-directory -j$(NPROC) test-build
	@bash tests/stress.sh

# The Debian package: built with dpkg-buildpackage in a copy of the tree,
# lintian-clean, installed with apt into a clean Debian container (podman)
# and run there (tests/integ/deploy_deb.sh). Not part of `make test`. Needs
# root; installs debhelper, lintian and podman the first time.
test-deb:
	@bash tests/count.sh tests/integ/deploy_deb.sh

unit: $(UNITS)
	@for t in $(UNITS); do $$t || exit 1; done

fuzz: $(FUZZERS)

check: faqbot
	./faqbot check faq/

# dev (../shared), the frozen holdout and our own kinds, side by side: one
# summary line each (scripts/score-all).
score: faqbot
	@bash scripts/score-all

bench: faqbot build/bench/bench_classify
	@bash bench/run.sh

lint:
	@bash tests/lint.sh

# The installed tree (DESTDIR in front of each, for packaging):
#   $(BINDIR)/faqbot                          the program
#   $(DATADIR)/faq/                           the shipped FAQ, faqbot's default
#   $(DATADIR)/cache/                         its learned stage and prefilter,
#                                             built by install (no training
#                                             at the first start)
#   $(MANDIR)/man1/faqbot.1                   the manual, naming $(DATADIR)
#   $(PREFIX)/lib/sysusers.d/faqbot.conf      the faqbot system user
#   $(SYSCONFDIR)/faqbot/faqbot.ini.example   the documented config, faq_dir
#                                             pointing at $(DATADIR)/faq
#   $(UNITDIR)/faqbot.service                 the systemd unit, ExecStart
#                                             pointing at $(BINDIR)/faqbot
# Nothing is written to /var: the state directory is made by faqbot itself
# (or systemd's StateDirectory=), mode 0700, at its first start.
install: faqbot
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/faq/learn $(DESTDIR)$(MANDIR)/man1 \
	  $(DESTDIR)$(SYSCONFDIR)/faqbot $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	install -m 0755 faqbot $(DESTDIR)$(BINDIR)/faqbot
	install -m 0644 faq/*.yml faq/README.md $(DESTDIR)$(DATADIR)/faq/
	install -m 0644 faq/learn/*.tsv $(DESTDIR)$(DATADIR)/faq/learn/
	sed 's|/usr/local/share/faqbot|$(DATADIR)|g' faqbot.1 >$(DESTDIR)$(MANDIR)/man1/faqbot.1
	chmod 0644 $(DESTDIR)$(MANDIR)/man1/faqbot.1
	sed 's|/usr/local/share/faqbot|$(DATADIR)|' faqbot.ini.example \
	  >$(DESTDIR)$(SYSCONFDIR)/faqbot/faqbot.ini.example
	chmod 0644 $(DESTDIR)$(SYSCONFDIR)/faqbot/faqbot.ini.example
	sed 's|/usr/local/bin/faqbot|$(BINDIR)/faqbot|' systemd/faqbot.service \
	  >$(DESTDIR)$(UNITDIR)/faqbot.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/faqbot.service
	install -m 0644 systemd/faqbot.sysusers $(DESTDIR)$(SYSUSERSDIR)/faqbot.conf
	# the learned stage and the prefilter of the FAQ as shipped, built now
	# (the installed binary reads them as FAQBOT_DATADIR/cache), so that a
	# first start answers at once instead of training for seconds; a FAQ
	# edited later has another key, misses them and trains once
	rm -rf $(DESTDIR)$(DATADIR)/cache
	FAQBOT_CACHE=$(DESTDIR)$(DATADIR)/cache ./faqbot check $(DESTDIR)$(DATADIR)/faq >/dev/null
	chmod 0755 $(DESTDIR)$(DATADIR)/cache
	chmod 0644 $(DESTDIR)$(DATADIR)/cache/*

# What install wrote, and nothing an admin made (faqbot.ini, the state).
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/faqbot $(DESTDIR)$(MANDIR)/man1/faqbot.1 \
	  $(DESTDIR)$(SYSCONFDIR)/faqbot/faqbot.ini.example $(DESTDIR)$(UNITDIR)/faqbot.service \
	  $(DESTDIR)$(SYSUSERSDIR)/faqbot.conf
	rm -rf $(DESTDIR)$(DATADIR)

# main.c and cli.c have the installed FAQ's place compiled in
# (FAQBOT_DATADIR), so their objects are rebuilt when DATADIR changes:
# without this, `make` then `make install PREFIX=/usr` would install a
# binary looking in /usr/local. build/datadir is rewritten only when the
# value differs.
build/datadir: FORCE
	@mkdir -p build
	@echo '$(DATADIR)' | cmp -s - $@ || echo '$(DATADIR)' >$@
build/rel/main.o build/asan/main.o build/rel/cli.o build/asan/cli.o: build/datadir
.PHONY: uninstall FORCE

clean:
	rm -rf build faqbot
