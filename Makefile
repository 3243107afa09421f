# occasiond - scheduled greeting cards and personal notes
#
#   make            build build/occasiond
#   make demo       install missing Debian packages, build, run the shipped example
#   make check      install missing Debian packages, build, run every test (plain and ASan+UBSan;
#                   the backend-independent end-to-end suites on SQLite and on PostgreSQL)
#   make bench      measure, write bench/RESULTS.md
#   make install    PREFIX (default /usr/local) and DESTDIR honoured

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
DATADIR ?= $(PREFIX)/share/occasiond
MANDIR ?= $(PREFIX)/share/man
# /etc for the system prefixes (the default config path is /etc/occasiond/occasiond.yaml),
# PREFIX/etc for any other (e.g. /opt/occasiond/etc; the unit then passes -c).
SYSCONFDIR ?= $(if $(filter /usr /usr/local,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
STATEDIR ?= /var/lib/occasiond
DESTDIR ?=

VERSION = 0.1.0
CC ?= cc
PKG_CONFIG ?= pkg-config
CFLAGS ?= -O2 -g
WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
HAVE_SYSTEMD := $(shell $(PKG_CONFIG) --exists libsystemd 2>/dev/null && echo 1)
PKGS = libcurl yaml-0.1 sqlite3 libpng $(if $(HAVE_SYSTEMD),libsystemd)
PKGS += harfbuzz harfbuzz-subset fribidi freetype2 fontconfig
PKGS += icu-uc
PKGS += expat
PKGS += libpq
PKGS += zlib
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
CPPFLAGS += -Iinclude -D_GNU_SOURCE -DOCCASIOND_VERSION='"$(VERSION)"' \
	-DOCCASIOND_DATADIR='"$(DATADIR)"' $(if $(HAVE_SYSTEMD),-DHAVE_SYSTEMD=1)
ALL_CFLAGS = -std=c11 $(WARN) $(CFLAGS) $(PKG_CFLAGS)
LIBS = $(PKG_LIBS) -lhpdf -lm

SAN_FLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined

SRCS := $(wildcard src/*.c)
LIB_SRCS := $(filter-out src/main.c,$(SRCS))
HDRS := $(wildcard include/occasiond/*.h src/*.h)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
E2E := $(sort $(wildcard tests/e2e/*.sh))

OBJS := $(LIB_SRCS:src/%.c=build/obj/%.o)
SAN_OBJS := $(LIB_SRCS:src/%.c=build/san/%.o)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=build/tests/%)
SAN_UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=build/san-tests/%)

all: build/occasiond

build/obj/%.o: src/%.c $(HDRS) | build/obj
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

build/san/%.o: src/%.c $(HDRS) | build/san
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(SAN_FLAGS) -c -o $@ $<

build/occasiond: build/obj/main.o $(OBJS)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

build/san/occasiond: build/san/main.o $(SAN_OBJS)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

build/tests/%: tests/unit/%.c tests/unit/check.h tests/unit/testlib.h $(OBJS) | build/tests
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -o $@ $< $(OBJS) $(LIBS)

build/san-tests/%: tests/unit/%.c tests/unit/check.h tests/unit/testlib.h $(SAN_OBJS) | build/san-tests
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(SAN_FLAGS) -o $@ $< $(SAN_OBJS) $(LIBS)

build/obj build/san build/tests build/san-tests:
	mkdir -p $@

deps:
	@sh scripts/deps.sh build

deps-test:
	@sh scripts/deps.sh test

deps-bench:
	@sh scripts/deps.sh bench

sanitize: build/san/occasiond $(SAN_UNIT_BINS)

# The matrix: every test with the plain build, then with the ASan+UBSan build, on SQLite; the
# backend-independent end-to-end suites (PG_E2E) again on PostgreSQL (a private server per
# script) with the plain build, and those but crash with the sanitizer build too: crash is the
# slowest there and tests/e2e/pg_crash.sh, its PostgreSQL twin, runs with both builds anyway.
PG_E2E := $(addprefix tests/e2e/,$(addsuffix .sh,spine rules cards smtp report crash hostile))
PG_SAN_E2E := $(filter-out tests/e2e/crash.sh,$(PG_E2E))
check:
	@echo "make check matrix: sqlite x {plain, asan}: unit + every e2e; pg x plain: $(notdir $(basename $(PG_E2E))); pg x asan: $(notdir $(basename $(PG_SAN_E2E)))"
	@$(MAKE) --no-print-directory deps-test
	@$(MAKE) --no-print-directory all $(UNIT_BINS)
	@$(MAKE) --no-print-directory sanitize
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  sh tests/run.sh --bin build/occasiond $(UNIT_BINS) $(E2E) --backend pg $(PG_E2E) --backend sqlite \
	                  --bin build/san/occasiond $(SAN_UNIT_BINS) $(E2E) --backend pg $(PG_SAN_E2E)

# Steps the machine's real clock (root): not part of check; see tests/clock/clockstep.sh.
check-clock: all
	@sh tests/run.sh --bin build/occasiond tests/clock/clockstep.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@sh scripts/demo.sh

bench: deps-bench
	@$(MAKE) --no-print-directory all
	@sh bench/run.sh

# The sample config as installed: its paths point at the installed data and the state directory.
SAMPLE_CONFIG = mkdir -p build && sed -e 's|^database:[^\#]*|database: $(STATEDIR)/occasiond.db      |' \
	-e 's|^spool:[^\#]*|spool: $(STATEDIR)/spool                |' \
	-e 's|^templates:.*|templates: $(DATADIR)/templates|' -e 's|^fonts:.*|fonts: $(DATADIR)/fonts|' \
	config/occasiond.yaml > build/occasiond.yaml.installed

# install: the sample config goes to SYSCONFDIR/occasiond with its paths pointed at the
# installed data and the service's state directory, and never over a file already there.
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 \
	  $(DESTDIR)$(DATADIR)/templates $(DESTDIR)$(DATADIR)/fonts $(DESTDIR)$(UNITDIR) \
	  $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(SYSCONFDIR)/occasiond
	install -m 0755 build/occasiond $(DESTDIR)$(SBINDIR)/occasiond
	install -m 0644 man/occasiond.8 $(DESTDIR)$(MANDIR)/man8/occasiond.8
	install -m 0644 man/occasiond.yaml.5 $(DESTDIR)$(MANDIR)/man5/occasiond.yaml.5
	cp -R templates/. $(DESTDIR)$(DATADIR)/templates/
	cp -R fonts/. $(DESTDIR)$(DATADIR)/fonts/
	install -d $(DESTDIR)$(DATADIR)/maps
	install -m 0644 maps/*.yaml $(DESTDIR)$(DATADIR)/maps/
	chmod -R u=rwX,go=rX $(DESTDIR)$(DATADIR)
	sed -e 's|/usr/local/sbin/occasiond|$(SBINDIR)/occasiond|' -e 's|/etc/occasiond/|$(SYSCONFDIR)/occasiond/|g' \
	  systemd/occasiond.service > $(DESTDIR)$(UNITDIR)/occasiond.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/occasiond.service
	install -m 0644 systemd/occasiond.sysusers $(DESTDIR)$(SYSUSERSDIR)/occasiond.conf
	@$(SAMPLE_CONFIG)
	for f in occasiond.yaml occasions.yaml; do \
	  src=config/$$f; [ $$f = occasiond.yaml ] && src=build/occasiond.yaml.installed; \
	  if [ -e $(DESTDIR)$(SYSCONFDIR)/occasiond/$$f ]; then \
	    echo "kept $(DESTDIR)$(SYSCONFDIR)/occasiond/$$f (the new sample is $$src)"; \
	  else install -m 0644 $$src $(DESTDIR)$(SYSCONFDIR)/occasiond/$$f; fi; done
	@[ -n "$(DESTDIR)" ] || echo "next: systemd-sysusers; systemctl daemon-reload; systemctl enable --now occasiond"

# uninstall: removes what install wrote; a config file that was edited is kept.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/occasiond $(DESTDIR)$(MANDIR)/man8/occasiond.8 \
	  $(DESTDIR)$(MANDIR)/man5/occasiond.yaml.5 $(DESTDIR)$(UNITDIR)/occasiond.service \
	  $(DESTDIR)$(SYSUSERSDIR)/occasiond.conf
	rm -rf $(DESTDIR)$(DATADIR)
	@$(SAMPLE_CONFIG)
	@for f in occasiond.yaml occasions.yaml; do \
	  src=config/$$f; [ $$f = occasiond.yaml ] && src=build/occasiond.yaml.installed; \
	  if cmp -s $$src $(DESTDIR)$(SYSCONFDIR)/occasiond/$$f; then rm -f $(DESTDIR)$(SYSCONFDIR)/occasiond/$$f; \
	  elif [ -e $(DESTDIR)$(SYSCONFDIR)/occasiond/$$f ]; then echo "kept $(DESTDIR)$(SYSCONFDIR)/occasiond/$$f (edited)"; fi; done
	@rmdir $(DESTDIR)$(SYSCONFDIR)/occasiond 2>/dev/null || true

# Fuzzing (clang's libFuzzer): FUZZ_TIME seconds per harness, seeds in tests/fuzz/corpus/.
FUZZ_TIME ?= 60
FUZZERS := yaml csv template mime card
FUZZERS += json
FUZZERS += vcard
FUZZERS += davxml
FUZZ_CC ?= clang
FUZZ_FLAGS = -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_OBJS := $(LIB_SRCS:src/%.c=build/fuzz/obj/%.o)
.SECONDARY: $(FUZZ_OBJS)

build/fuzz/obj/%.o: src/%.c $(HDRS) | build/fuzz/obj
	$(FUZZ_CC) $(CPPFLAGS) -std=c11 -Iinclude $(PKG_CFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_common.h $(FUZZ_OBJS)
	$(FUZZ_CC) $(CPPFLAGS) -std=c11 -Iinclude $(PKG_CFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJS) $(LIBS)

build/fuzz/obj:
	mkdir -p $@

fuzz: deps-test
	@command -v $(FUZZ_CC) >/dev/null || { echo "fuzz: $(FUZZ_CC) is needed (apt-get install clang)" >&2; exit 1; }
	@$(MAKE) --no-print-directory $(FUZZERS:%=build/fuzz/fuzz_%)
	@sh tests/fuzz/run.sh $(FUZZ_TIME) $(FUZZERS)

clean:
	rm -rf build var tests/last-run.log

# The libraries the binary links (tests/e2e/daemon.sh links a build without libsystemd).
print-libs:
	@echo $(LIBS)

.PHONY: all deps deps-test deps-bench fuzz sanitize check check-clock demo bench install uninstall clean print-libs
