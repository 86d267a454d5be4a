# hakmem - one plain Makefile.
#   make              build everything into build/
#   make test         install missing deps, build, run the whole suite
#   make demo         install missing deps, build, show the product working
#   make bench        peer comparison (glibc, mimalloc, jemalloc, tcmalloc)
#   make deps         install the Debian packages we need
#   make DEBUG=1      -O0 -g -fsanitize=address,undefined on tests and tools
#   make TRACE=0      a build with every tracepoint compiled out
#   make install PREFIX=/usr/local

CC      ?= gcc
BUILD   ?= build
DEBUG   ?= 0
TRACE   ?= 1
PREFIX  ?= /usr/local
VERSION := 0.1.0

WARN    := -Wall -Wextra -Werror
STD     := -std=gnu11 -D_GNU_SOURCE -DHAKMEM_VERSION='"$(VERSION)"'

# The allocator is always optimised (a sanitizer cannot sit under malloc);
# DEBUG changes tests and tools only.
LIB_CFLAGS := $(STD) $(WARN) -O2 -g -fPIC -fvisibility=hidden \
	-ftls-model=initial-exec -fno-semantic-interposition -fno-plt \
	-fno-stack-protector -fno-tree-loop-distribute-patterns \
	-fno-builtin-malloc -fno-builtin-calloc -fno-builtin-realloc -fno-builtin-free \
	-Isrc -Iinclude
LIB_LDFLAGS := -shared -Wl,-z,now -Wl,--no-undefined -pthread

ifeq ($(DEBUG),1)
  TOOL_OPT := -O0 -g -fsanitize=address,undefined -fno-omit-frame-pointer
  TOOL_LD  := -fsanitize=address,undefined
else
  TOOL_OPT := -O2 -g
  TOOL_LD  :=
endif
TOOL_CFLAGS := $(STD) $(WARN) $(TOOL_OPT) -Iinclude -Itrace -pthread
TOOL_LDFLAGS := $(TOOL_LD) -pthread
# Test programs run on hakmem's malloc (linked, or LD_PRELOADed): ASan would
# replace that malloc (and refuses to start behind a preloaded library), so
# under DEBUG they get UBSan only, with every finding fatal.
ifeq ($(DEBUG),1)
  TEST_CFLAGS  := $(STD) $(WARN) -O0 -g -fsanitize=undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer -Iinclude -Itrace -pthread
  TEST_LDFLAGS := -fsanitize=undefined -pthread
else
  TEST_CFLAGS  := $(TOOL_CFLAGS)
  TEST_LDFLAGS := $(TOOL_LDFLAGS)
endif

ifeq ($(TRACE),1)
  LIB_CFLAGS += -DHAKMEM_TRACE
endif
# COUNTERS=0: the fast paths' per-operation counters compiled out, only to
# measure what they cost (hakmem-top then shows slow-path counts only).
COUNTERS ?= 1
ifeq ($(COUNTERS),0)
  LIB_CFLAGS += -DHAKMEM_NO_COUNTERS
endif

LIB_SRC := $(wildcard src/*.c)
LIB_OBJ := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(LIB_SRC))
LIB     := $(BUILD)/libhakmem.so

# Probe library: only with tracepoints.
PROBE_SRC := $(wildcard trace/hakmem_tp_probe.c)
ifeq ($(TRACE),1)
  PROBE := $(if $(PROBE_SRC),$(BUILD)/libhakmem-tp.so)
endif

# Trace reader library (libbabeltrace2) shared by the tools.
READER_SRC := $(filter-out $(PROBE_SRC),$(wildcard trace/*.c))
READER     := $(if $(READER_SRC),$(BUILD)/libhkreader.a)
READER_LIBS := $(if $(READER_SRC),$(BUILD)/libhkreader.a -lbabeltrace2)

# Tools: one directory each under tools/, all built when present.
TOOL_DIRS := $(notdir $(wildcard tools/*))
TOOLS     := $(addprefix $(BUILD)/,$(TOOL_DIRS))
LIBS_hakmem-top      := $(BUILD)/libhkreader.a -lncursesw -ltinfo -lm
LIBS_hakmem-trace    := $(READER_LIBS)
LIBS_hakmem-replay   := $(READER_LIBS) -lunwind -lunwind-x86_64
LIBS_hakmem-lockstat := $(READER_LIBS) -lunwind -lunwind-x86_64

# Tests: tests/unit/*.c are programs linked with libhakmem; tests/*.sh and
# tests/*/*.sh are scripts; tests/run.sh runs them all.
TEST_SRC  := $(wildcard tests/unit/*.c)
TEST_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(TEST_SRC))
TEST_HELPER_SRC := $(wildcard tests/progs/*.c)
TEST_HELPERS := $(patsubst tests/progs/%.c,$(BUILD)/tests/progs/%,$(TEST_HELPER_SRC))

# bench/floor_alloc.c is the harness-floor allocator (an LD_PRELOAD .so).
BENCH_SRC  := $(filter-out bench/floor_alloc.c,$(wildcard bench/*.c))
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC)) \
	$(if $(wildcard bench/floor_alloc.c),$(BUILD)/bench/libfloor.so)

.PHONY: all lib tools tests test demo bench deps install clean soak fuzz tsan
all: lib tools tests benches

lib: $(LIB) $(PROBE)
tools: $(TOOLS)
tests: $(TEST_BINS) $(TEST_HELPERS)
benches: $(BENCH_BINS)

$(BUILD)/obj/%.o: src/%.c $(wildcard src/*.h) $(wildcard trace/*.h) | $(BUILD)/obj
	$(CC) $(LIB_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	$(CC) $(LIB_LDFLAGS) -o $@ $^

$(BUILD)/libhakmem-tp.so: $(PROBE_SRC) $(wildcard trace/*.h) | $(BUILD)
	$(CC) $(STD) $(WARN) -O2 -g -fPIC -Itrace -Isrc -shared -o $@ $< \
		-Wl,--no-as-needed -llttng-ust -ldl

$(BUILD)/obj/reader/%.o: trace/%.c $(wildcard trace/*.h) | $(BUILD)/obj/reader
	$(CC) $(TOOL_CFLAGS) -c $< -o $@

$(BUILD)/libhkreader.a: $(patsubst trace/%.c,$(BUILD)/obj/reader/%.o,$(READER_SRC))
	ar rcs $@ $^

.SECONDEXPANSION:
$(BUILD)/hakmem-%: $$(wildcard tools/hakmem-$$*/*.c) $$(wildcard tools/hakmem-$$*/*.h) $(wildcard trace/*.h) $(READER) | $(BUILD)
	$(CC) $(TOOL_CFLAGS) -Itools/hakmem-$* -o $@ $(filter %.c,$^) $(TOOL_LDFLAGS) $(LIBS_hakmem-$*)

$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) include/hakmem.h $(LIB) | $(BUILD)/tests
	$(CC) $(TEST_CFLAGS) -Itests/unit -o $@ $< $(TEST_LDFLAGS) -L$(BUILD) -lhakmem -Wl,-rpath,'$$ORIGIN/..' -lm

$(BUILD)/tests/progs/%: tests/progs/%.c | $(BUILD)/tests/progs
	$(CC) $(TEST_CFLAGS) -o $@ $< $(TEST_LDFLAGS) -lm

$(BUILD)/bench/%: bench/%.c $(wildcard bench/*.h) | $(BUILD)/bench
	$(CC) $(STD) $(WARN) -O2 -g -pthread -o $@ $< -lm -ldl

$(BUILD)/bench/libfloor.so: bench/floor_alloc.c | $(BUILD)/bench
	$(CC) $(STD) $(WARN) -O2 -g -fPIC -shared -pthread -o $@ $<

$(BUILD) $(BUILD)/obj $(BUILD)/obj/reader $(BUILD)/tests $(BUILD)/tests/progs $(BUILD)/bench:
	mkdir -p $@

deps:
	@sh scripts/setup.sh

test:
	@sh scripts/setup.sh
	@$(MAKE) --no-print-directory all
	@sh tests/run.sh

demo:
	@sh scripts/setup.sh
	@$(MAKE) --no-print-directory all
	@sh scripts/demo.sh

bench:
	@sh scripts/setup.sh
	@$(MAKE) --no-print-directory all
	@sh bench/run.sh

soak:
	@$(MAKE) --no-print-directory all
	@sh tests/soak.sh

# Fuzz runs (libFuzzer, clang; tests/fuzz/): the .hkr reader and the stats
# segment reader, FUZZ_SECONDS each (default 180); corpora and crashing
# inputs are kept in build/fuzz/.
fuzz:
	@$(MAKE) --no-print-directory lib
	@FUZZ_SECONDS=$${FUZZ_SECONDS:-180} FUZZ_DIR=$(BUILD)/fuzz sh tests/fuzz/fuzz_smoke.sh

# ThreadSanitizer: the allocator's sources linked into its multi-threaded
# tests, built in build/tsan/ (tests/tsan/run.sh).
tsan:
	@$(MAKE) --no-print-directory lib
	@sh tests/tsan/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin \
		$(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(LIB) $(PROBE) $(DESTDIR)$(PREFIX)/lib/
	install -m 0644 include/hakmem.h $(DESTDIR)$(PREFIX)/include/
	for t in $(TOOLS); do install -m 0755 $$t $(DESTDIR)$(PREFIX)/bin/; done
	for m in $(wildcard docs/man/*.1); do install -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man1/; done
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' scripts/hakmem.pc.in \
		> $(DESTDIR)$(PREFIX)/lib/pkgconfig/hakmem.pc

clean:
	rm -rf $(BUILD)
