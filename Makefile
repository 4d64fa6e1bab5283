# mcfast - one plain Makefile.  See README.md.
#   make            library (static + shared) and the CLI, in build/
#   make check      bootstrap missing Debian packages, build, run every test
#   make examples   the async API examples (examples/*.c) in build/examples/
#   make demo       bootstrap, build, start throwaway memcached servers, show set/get
#   make install PREFIX=/usr/local   (also the Perl module when perl is present)
#   make install-perl   the Perl module alone (PREFIX, DESTDIR, PERL_MM_ARGS)
#   SANITIZE=address,undefined  builds everything with those sanitizers
#   CC=clang        any C11 compiler

CC      ?= cc
PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
BINDIR  ?= $(PREFIX)/bin
PKGDIR  ?= $(LIBDIR)/pkgconfig
MANDIR  ?= $(PREFIX)/share/man
B       := build

# The version is set in one place, the file VERSION (MAJOR.MINOR.PATCH):
# src/version.c gets its numbers (and stops the build when mcfast.h's
# MCF_VERSION_* disagree), mcfast.pc gets the string; tests/t_version.sh
# checks the Perl module's and debian/changelog's against it.
VERSION     := $(strip $(file < VERSION))
VERSION_NUMS := $(subst ., ,$(VERSION))
VERSION_DEFS := -DMCF_BUILD_VERSION_MAJOR=$(word 1,$(VERSION_NUMS)) \
                -DMCF_BUILD_VERSION_MINOR=$(word 2,$(VERSION_NUMS)) \
                -DMCF_BUILD_VERSION_PATCH=$(word 3,$(VERSION_NUMS))
SOVERSION   := 0
WARN        := -Wall -Wextra -Wpedantic -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
OPT         ?= -O2 -g
# CPPFLAGS and CFLAGS are the caller's (e.g. dpkg-buildflags' hardening).
CFLAGS_ALL  := -std=c11 -D_GNU_SOURCE $(WARN) $(OPT) -Iinclude -Isrc $(CPPFLAGS) $(CFLAGS)
# TLS=1 builds TLS in (OpenSSL's libssl: src/tls_context.c, src/transport_tls.c),
# TLS=0 leaves it out (src/tls_none.c).  By default it is in when OpenSSL's
# headers are installed (Debian libssl-dev).
ifeq ($(origin TLS),undefined)
TLS := $(shell printf '\043include <openssl/ssl.h>\n' | $(CC) -E -x c - >/dev/null 2>&1 && echo 1 || echo 0)
endif
ifeq ($(TLS),1)
TLS_LEFT_OUT := src/tls_none.c
TLS_LIBS     := -lssl -lcrypto
else
TLS_LEFT_OUT := src/tls_context.c src/transport_tls.c
endif
DEPS_LIBS   := $(TLS_LIBS) -lz -lcares
ifneq ($(SANITIZE),)
CFLAGS_ALL  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS     += -fsanitize=$(SANITIZE)
endif

LIB_SRCS := $(filter-out $(TLS_LEFT_OUT),$(wildcard src/*.c))
LIB_OBJS := $(LIB_SRCS:src/%.c=$(B)/obj/%.o)
PIC_OBJS := $(LIB_SRCS:src/%.c=$(B)/pic/%.o)
TEST_SRCS := $(wildcard tests/test_*.c)
TEST_BINS := $(TEST_SRCS:tests/%.c=$(B)/tests/%)
# tests/tool_*.c: programs that test scripts run (e.g. inside a namespace); not run by themselves.
TOOL_SRCS := $(wildcard tests/tool_*.c)
TOOL_BINS := $(TOOL_SRCS:tests/%.c=$(B)/tests/%)
# Linked into every test program: memcached processes, the TEST() registry
# and runner, the helpers the programs share.
TEST_SUPPORT := $(B)/tests/mcserver.o $(B)/tests/harness.o $(B)/tests/fixtures.o
TEST_HEADERS := $(wildcard tests/*.h)

.PHONY: all lib cli check test tests examples demo install uninstall clean bootstrap bootstrap-demo \
        bench bench-build bench-down bench-cli bench-tls bench-tls-build bench-callgrind bench-scaling bench-async fuzz fuzz-build perl bench-perl install-perl
all: lib cli

lib: $(B)/libmcfast.a $(B)/libmcfast_pic.a $(B)/libmcfast.so
cli: $(B)/mcfast

$(B)/obj/%.o: src/%.c $(wildcard src/*.h) $(wildcard include/*.h) | $(B)/obj
	$(CC) $(CFLAGS_ALL) -DMCF_BUILDING_LIBRARY -fvisibility=hidden -c $< -o $@

$(B)/pic/%.o: src/%.c $(wildcard src/*.h) $(wildcard include/*.h) | $(B)/pic
	$(CC) $(CFLAGS_ALL) -DMCF_BUILDING_LIBRARY -fvisibility=hidden -fPIC -c $< -o $@

$(B)/obj/version.o $(B)/pic/version.o: CFLAGS_ALL += $(VERSION_DEFS)
$(B)/obj/version.o $(B)/pic/version.o: VERSION

$(B)/libmcfast.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

# The shared library's PIC objects as an archive, installed next to
# libmcfast.a: a Perl (or other) extension links it statically into its own
# shared object, which the non-PIC libmcfast.a cannot go into.  Reusing the
# .so's objects costs one ar run and keeps libmcfast.a as fast as before.
$(B)/libmcfast_pic.a: $(PIC_OBJS)
	rm -f $@ && ar rcs $@ $^

# Only MCF_API symbols are exported (-fvisibility=hidden everywhere else),
# each versioned MCFAST_0.1 by the version script (tests/t_symbols.sh).
LIB_MAP := src/libmcfast.map
$(B)/libmcfast.so.$(VERSION): $(PIC_OBJS) $(LIB_MAP)
	$(CC) -shared -Wl,-soname,libmcfast.so.$(SOVERSION) -Wl,--no-undefined -Wl,--version-script=$(LIB_MAP) $(LDFLAGS) -o $@ $(PIC_OBJS) $(DEPS_LIBS)
$(B)/libmcfast.so: $(B)/libmcfast.so.$(VERSION)
	ln -sf libmcfast.so.$(VERSION) $(B)/libmcfast.so.$(SOVERSION)
	ln -sf libmcfast.so.$(VERSION) $@

# The CLI links the static library: it also uses the address layer (src/addr.h)
# for `mcfast resolve`, and dist.c's continuum for `mcfast ring`
# (tools/placement.c).  Every tools/*.c is part of it (tools/cli.h).
CLI_SRCS := $(wildcard tools/*.c)
$(B)/mcfast: $(CLI_SRCS) $(wildcard tools/*.h) $(B)/libmcfast.a | $(B)
	$(CC) $(CFLAGS_ALL) -Itools $(LDFLAGS) -o $@ $(CLI_SRCS) $(B)/libmcfast.a $(DEPS_LIBS) -lm

$(B)/tests/%.o: tests/%.c $(TEST_HEADERS) include/mcfast.h | $(B)/tests
	$(CC) $(CFLAGS_ALL) -Itests -c $< -o $@

# Tests link the static library so they may use internal layers too.
$(B)/tests/test_%: tests/test_%.c $(B)/libmcfast.a $(TEST_SUPPORT) $(TEST_HEADERS) | $(B)/tests
	$(CC) $(CFLAGS_ALL) $(LDFLAGS) -Itests -o $@ $< $(TEST_SUPPORT) $(TEST_OBJS_$*) $(B)/libmcfast.a $(DEPS_LIBS) $(TEST_EXTRA_LIBS_$*) -lpthread

$(B)/tests/tool_%: tests/tool_%.c $(B)/libmcfast.a $(TEST_SUPPORT) $(TEST_HEADERS) | $(B)/tests
	$(CC) $(CFLAGS_ALL) $(LDFLAGS) -Itests -o $@ $< $(TEST_SUPPORT) $(B)/libmcfast.a $(DEPS_LIBS) $(TOOL_EXTRA_LIBS_$*) -lpthread

# Per-program extra libraries: TEST_EXTRA_LIBS_<name> / TOOL_EXTRA_LIBS_<name>;
# extra test objects (linked before the library): TEST_OBJS_<name>.
TOOL_EXTRA_LIBS_libmemcached := -lmemcached
# The event-loop adapters (header only) under test, and the examples' loops it includes.
TEST_EXTRA_LIBS_async_adapters := -levent -luv -lev
$(B)/tests/test_async_adapters: $(wildcard include/mcfast/adapters/*.h) include/mcfast_async.h \
                                examples/async_poll.c examples/async_epoll.c

# test_bench_stats: the CLI bench's histogram and key choice (tools/).
TEST_OBJS_bench_stats := $(B)/tools/bench_hist.o $(B)/tools/bench_keys.o
$(B)/tests/test_bench_stats: $(TEST_OBJS_bench_stats)
TEST_EXTRA_LIBS_bench_stats := -lm
$(B)/tools/%.o: tools/%.c $(wildcard tools/*.h) include/mcfast.h | $(B)/tools
	$(CC) $(CFLAGS_ALL) -Itools -c $< -o $@

# The TLS tests (tests/test_tls_*.c) also link tests/tlsfix.c: certificates,
# memcached -Z, a hostile TLS peer (OpenSSL's libssl, in DEPS_LIBS with
# TLS=1).  With TLS=0 it is built without the peer and the programs SKIP
# every case.  (This rule's shorter stem wins over test_%.)
$(B)/tests/test_tls_%: tests/test_tls_%.c $(B)/tests/tlsfix.o $(B)/libmcfast.a $(TEST_SUPPORT) $(TEST_HEADERS) | $(B)/tests
	$(CC) $(CFLAGS_ALL) $(LDFLAGS) -Itests -o $@ $< $(B)/tests/tlsfix.o $(TEST_SUPPORT) $(B)/libmcfast.a $(DEPS_LIBS) -lpthread
# The soaks put one server behind TLS with it too.
TEST_OBJS_soak := $(B)/tests/tlsfix.o
TEST_OBJS_async_soak := $(B)/tests/tlsfix.o
$(B)/tests/test_soak $(B)/tests/test_async_soak: $(B)/tests/tlsfix.o
$(B)/tests/tlsfix.o: tests/tlsfix.c $(TEST_HEADERS) include/mcfast.h | $(B)/tests
	$(CC) $(CFLAGS_ALL) -DMCF_TEST_TLS=$(TLS) -Itests -c $< -o $@

# examples/*.c: programs a user would write, so only the public headers
# (-Iinclude, no -Isrc) and each defines its own feature macros.
EXAMPLE_SRCS := $(wildcard examples/*.c)
EXAMPLE_BINS := $(EXAMPLE_SRCS:examples/%.c=$(B)/examples/%)
EXAMPLE_CFLAGS := $(filter-out -Isrc -D_GNU_SOURCE,$(CFLAGS_ALL))
$(B)/examples/%: examples/%.c $(B)/libmcfast.a include/mcfast.h include/mcfast_async.h | $(B)/examples
	$(CC) $(EXAMPLE_CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libmcfast.a $(DEPS_LIBS)
examples: $(EXAMPLE_BINS)

# The examples are built with the tests, so they never rot.
tests: $(TEST_BINS) $(TOOL_BINS) $(EXAMPLE_BINS) all

$(B) $(B)/obj $(B)/pic $(B)/tests $(B)/examples $(B)/tools:
	mkdir -p $@

bootstrap:
	@scripts/bootstrap.sh check
bootstrap-demo:
	@scripts/bootstrap.sh demo

# check: the README's test command.  Ends with "N passed, N failed".
check: bootstrap
	$(MAKE) tests
	B=$(B) SANITIZE=$(SANITIZE) tests/run.sh

test: check

demo: bootstrap-demo
	$(MAKE) all
	scripts/demo.sh

# ---- benchmark (issue: "Benchmark against libmemcached") ----
# bench/*.c make one program linked with libmcfast and libmemcached.
BENCH_SRCS := $(wildcard bench/*.c) $(wildcard bench/common/*.c)
BENCH_ARGS ?=
$(B)/mcfast-bench: $(BENCH_SRCS) $(wildcard bench/*.h bench/common/*.h) $(B)/libmcfast.a $(TEST_SUPPORT) | $(B)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS) -Itests -Ibench/common -o $@ $(BENCH_SRCS) $(TEST_SUPPORT) $(B)/libmcfast.a $(DEPS_LIBS) -lmemcached -lpthread
bench-build: bootstrap
	$(MAKE) $(B)/mcfast-bench
# bench/down/*.c: a multi-get with one of 4 servers dead (killed, then
# blackholed), mcfast's healing against libmemcached's auto-eject.
BENCH_DOWN_SRCS := $(wildcard bench/down/*.c) $(wildcard bench/common/*.c)
$(B)/mcfast-bench-down: $(BENCH_DOWN_SRCS) $(wildcard bench/common/*.h) $(B)/libmcfast.a $(TEST_SUPPORT) | $(B)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS) -Itests -Ibench/common -o $@ $(BENCH_DOWN_SRCS) $(TEST_SUPPORT) $(B)/libmcfast.a $(DEPS_LIBS) -lmemcached -lpthread
bench-down: bootstrap
	$(MAKE) $(B)/mcfast-bench-down
	$(B)/mcfast-bench-down
# bench/tls/*.c make the TLS bench: mcfast over TLS against plaintext mcfast
# and pymemcache (bench/tls_pymemcache.py) on one memcached -Z.  It links
# tests/tlsfix.o for the certificates; with TLS=0 it builds and says "TLS
# not built in".
BENCH_TLS_SRCS := $(wildcard bench/tls/*.c) $(wildcard bench/common/*.c)
BENCH_TLS_ARGS ?=
$(B)/mcfast-bench-tls: $(BENCH_TLS_SRCS) $(wildcard bench/tls/*.h bench/common/*.h) $(B)/libmcfast.a $(B)/tests/tlsfix.o $(TEST_SUPPORT) | $(B)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS) -Itests -Ibench/common -o $@ $(BENCH_TLS_SRCS) $(B)/tests/tlsfix.o $(TEST_SUPPORT) $(B)/libmcfast.a $(DEPS_LIBS) -lpthread
bench-tls-build: bootstrap
	$(MAKE) $(B)/mcfast-bench-tls
# make bench: every workload timed (the scaling table at the end), then the
# callgrind instruction counts when valgrind is installed, then the TLS bench.
# make bench-scaling: only the get_multi1000 scaling workloads.
# make bench-async: only async_get256 and async_get256_4srv, timed, then
# their callgrind counts when valgrind is installed.
# make bench-callgrind [CG_WORKLOADS="w1 w2"]: only the instruction counts.
CG_WORKLOADS ?=
bench: bench-build bench-tls-build
	$(B)/mcfast-bench $(BENCH_ARGS)
	@if command -v valgrind >/dev/null; then bench/callgrind.sh $(B)/mcfast-bench $(CG_WORKLOADS); \
	else echo "info: callgrind counts skipped: valgrind is not installed"; fi
	$(B)/mcfast-bench-tls $(BENCH_TLS_ARGS)
# make bench-tls: only the TLS bench (tls_* workloads, handshake times).
bench-tls: bench-tls-build
	$(B)/mcfast-bench-tls $(BENCH_TLS_ARGS)
bench-scaling: bench-build
	$(B)/mcfast-bench --scaling $(BENCH_ARGS)
ASYNC_WORKLOADS := async_get256 async_get256_4srv
bench-async: bench-build
	$(B)/mcfast-bench --workloads "$(ASYNC_WORKLOADS)" $(BENCH_ARGS)
	@if command -v valgrind >/dev/null; then bench/callgrind.sh $(B)/mcfast-bench $(ASYNC_WORKLOADS); \
	else echo "info: callgrind counts skipped: valgrind is not installed"; fi
bench-callgrind: bench-build
	bench/callgrind.sh $(B)/mcfast-bench $(CG_WORKLOADS)
# make bench-cli: `mcfast bench` against memcaslap (libmemcached-tools) on the
# same fresh memcached servers, one "bench: cli WORKLOAD mcfast=X ops/s
# memcaslap=Y ops/s ratio=R" line per workload (bench/cli_vs_memcaslap.sh;
# BENCH_CLI_ENV="DURATION=5 ROUNDS=1 SERVERS=1 WORKLOADS=...").
BENCH_CLI_ENV ?=
bench-cli: bootstrap
	$(MAKE) $(B)/mcfast
	env B=$(B) $(BENCH_CLI_ENV) bench/cli_vs_memcaslap.sh

# ---- Perl binding: Cache::Memcached::Mcfast (XS, links libmcfast statically) ----
# Perl is not built with sanitizers, so the binding always links a plain,
# position-independent build of the library from build-perl/.
PERL_B := build-perl
perl:
	$(MAKE) $(PERL_B)/libmcfast.a B=$(PERL_B) SANITIZE= OPT="-O2 -g -fPIC"
	cd perl && perl Makefile.PL MCFAST_ROOT=$(CURDIR) MCFAST_LIB=$(CURDIR)/$(PERL_B) && $(MAKE)

# make install-perl: builds and installs Cache::Memcached::Mcfast with
# MakeMaker (make install runs it when perl is present).  PREFIX goes to
# MakeMaker, so the default /usr/local is Perl's site directories;
# DESTDIR stages as for the library; PERL_MM_ARGS adds Makefile.PL
# arguments (e.g. INSTALL_BASE=DIR or INSTALLDIRS=vendor).
PERL_OK := command -v perl >/dev/null 2>&1 && perl -MExtUtils::MakeMaker -e1 2>/dev/null
# A staged install (DESTDIR) writes no .packlist (MakeMaker would record
# the staging paths in it) and no perllocal.pod (every package would own
# the same file): the package manager keeps those records.
PERL_MM_ARGS ?=
PERL_STAGED := $(if $(DESTDIR),NO_PACKLIST=1 NO_PERLLOCAL=1)
install-perl:
	$(MAKE) $(PERL_B)/libmcfast.a B=$(PERL_B) SANITIZE= OPT="-O2 -g -fPIC"
	cd perl && perl Makefile.PL MCFAST_ROOT=$(CURDIR) MCFAST_LIB=$(CURDIR)/$(PERL_B) \
	    PREFIX=$(PREFIX) $(PERL_STAGED) $(PERL_MM_ARGS) && $(MAKE) && $(MAKE) install DESTDIR=$(DESTDIR)

# make bench-perl: Cache::Memcached::Mcfast against the real
# Cache::Memcached::Fast in one perl process, alternating rounds on the same
# memcached servers (bench/perl/bench.pl; BENCH_PERL_ARGS="--rounds N
# --round-time S --workloads a,b"): one "perl: WORKLOAD ... ratio=R
# cpu_ratio=C" line per workload.
BENCH_PERL_ARGS ?=
bench-perl: bootstrap perl
	perl -I$(CURDIR)/perl/blib/lib -I$(CURDIR)/perl/blib/arch bench/perl/bench.pl $(BENCH_PERL_ARGS)

# ---- fuzzing (libFuzzer; clang only) ----
FUZZ_SECONDS ?= 60
FUZZ_SRCS := $(wildcard fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:fuzz/%.c=$(B)/fuzz/%)
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -Iinclude -Isrc -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all $(VERSION_DEFS)
$(B)/fuzz/%: fuzz/%.c $(LIB_SRCS) $(wildcard src/*.h) | $(B)/fuzz
	clang $(FUZZ_CFLAGS) -o $@ $< $(LIB_SRCS) $(DEPS_LIBS)
$(B)/fuzz:
	mkdir -p $@
fuzz-build: $(FUZZ_BINS)
fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) B=$(B) fuzz/run.sh

# The manual pages of the commands (man/mcfast.1); t_man.sh lints them.
MAN1_PAGES := $(wildcard man/*.1)

install: all
	install -d $(DESTDIR)$(INCDIR) $(DESTDIR)$(INCDIR)/mcfast/adapters $(DESTDIR)$(LIBDIR) \
	    $(DESTDIR)$(BINDIR) $(DESTDIR)$(PKGDIR)
	install -m 644 include/mcfast.h include/mcfast_async.h $(DESTDIR)$(INCDIR)/
	install -m 644 include/mcfast/adapters/*.h $(DESTDIR)$(INCDIR)/mcfast/adapters/
	install -m 644 $(B)/libmcfast.a $(DESTDIR)$(LIBDIR)/
	install -m 644 $(B)/libmcfast_pic.a $(DESTDIR)$(LIBDIR)/
	install -m 755 $(B)/libmcfast.so.$(VERSION) $(DESTDIR)$(LIBDIR)/
	ln -sf libmcfast.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libmcfast.so.$(SOVERSION)
	ln -sf libmcfast.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libmcfast.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCDIR@|$(INCDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' -e 's|@LIBS_PRIVATE@|$(DEPS_LIBS)|' mcfast.pc.in \
	    > $(DESTDIR)$(PKGDIR)/mcfast.pc
	install -m 755 $(B)/mcfast $(DESTDIR)$(BINDIR)/
	install -d $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(MAN1_PAGES) $(DESTDIR)$(MANDIR)/man1/
	install -d $(DESTDIR)$(MANDIR)/man3
	install -m 644 man/*.3 $(DESTDIR)$(MANDIR)/man3/
	@if $(PERL_OK); then $(MAKE) install-perl; \
	else echo "info: Perl module not installed: perl or ExtUtils::MakeMaker is missing"; fi

uninstall:
	rm -f $(DESTDIR)$(INCDIR)/mcfast.h $(DESTDIR)$(INCDIR)/mcfast_async.h $(DESTDIR)$(LIBDIR)/libmcfast.* \
	    $(DESTDIR)$(LIBDIR)/libmcfast_pic.a $(DESTDIR)$(PKGDIR)/mcfast.pc $(DESTDIR)$(BINDIR)/mcfast
	rm -rf $(DESTDIR)$(INCDIR)/mcfast/adapters
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MAN1_PAGES)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man3/,$(notdir $(wildcard man/*.3)))
	-rmdir $(DESTDIR)$(INCDIR)/mcfast 2>/dev/null

clean:
	rm -rf $(B)
