# Planasonix build. `make` builds build/release/planasonix-mcp; `make MODE=asan` builds the
# ASan+UBSan variant in build/asan, `make MODE=tsan` the ThreadSanitizer one in build/tsan;
# `make check` runs every test (see scripts/test.sh).
MODE ?= release
BUILD ?= build/$(MODE)
PREFIX ?= /usr/local
CC ?= cc

# The connectors' client libraries (libcurl, libpq, MariaDB Connector/C) are not linked into
# the program: it loads them on first use (src/base/dl.h), which keeps ~3.5 ms of library
# loading out of every start-up. Tests link them, to set up data with them directly.
PKGS_LINKED := json-c libsodium sqlite3 libmicrohttpd
PKGS_LOADED := libcurl libpq libmariadb
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS_LINKED) $(PKGS_LOADED))
BIN_LIBS := $(shell pkg-config --libs $(PKGS_LINKED)) -ldl -lpthread -lm
PKG_LIBS := $(shell pkg-config --libs $(PKGS_LINKED) $(PKGS_LOADED)) -ldl -lpthread -lm

# One list of warnings; every one is an error.
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
        -Wvla -Wpointer-arith -Wundef -Wimplicit-fallthrough -Wcast-qual -Wnull-dereference \
        -Wwrite-strings -Wold-style-definition

ifeq ($(MODE),asan)
OPT := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else ifeq ($(MODE),tsan)
# ThreadSanitizer (scripts/test.sh runs the unit tests and the threaded e2e paths with it).
OPT := -O1 -g -fsanitize=thread -fno-omit-frame-pointer
else ifeq ($(MODE),release)
OPT := -O2 -g
else
$(error MODE must be release, asan or tsan)
endif

CFLAGS := -std=c17 $(OPT) $(WARN) -D_DEFAULT_SOURCE -Isrc -I$(BUILD)/gen $(PKG_CFLAGS)
LDFLAGS := $(OPT)

SRCS := $(shell find src -name '*.c' ! -path 'src/app/main.c' | sort)
OBJS := $(SRCS:%.c=$(BUILD)/%.o)
GEN_SRCS := $(BUILD)/gen/embed_tool_specs.c $(BUILD)/gen/embed_migrations_sqlite.c \
            $(BUILD)/gen/embed_catalog.c $(BUILD)/gen/tool_table.c
GEN_OBJS := $(GEN_SRCS:.c=.o)
LIB := $(BUILD)/libplanasonix.a
BIN := $(BUILD)/planasonix-mcp

TEST_SRCS := $(sort $(wildcard tests/unit/test_*.c))
TEST_BINS := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all tests check check-unit install clean format format-check
all: $(BIN)

$(BIN): $(BUILD)/src/app/main.o $(LIB)
	@echo "  LINK    $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(BIN_LIBS)

$(LIB): $(OBJS) $(GEN_OBJS)
	@rm -f $@ && ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	@$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/embed: scripts/embed.c
	@mkdir -p $(dir $@)
	$(CC) -std=c17 -O1 -Wall -Wextra -Werror -o $@ $<

# Each embedded family's file list, rewritten only when a file is added or removed, so that a
# removed spec, migration or catalog entry regenerates what embeds it (its timestamp cannot).
SPECS := $(sort $(wildcard src/tools/specs/*.json))
MIGRATIONS := $(sort $(wildcard src/store/migrations/sqlite/*.sql))
CATALOG := $(sort $(wildcard src/engine/catalog/*.json))
.PHONY: FORCE
%/gen/specs.list: FORCE
	@mkdir -p $(dir $@); echo '$(SPECS)' | cmp -s - $@ || echo '$(SPECS)' > $@
%/gen/migrations.list: FORCE
	@mkdir -p $(dir $@); echo '$(MIGRATIONS)' | cmp -s - $@ || echo '$(MIGRATIONS)' > $@
%/gen/catalog.list: FORCE
	@mkdir -p $(dir $@); echo '$(CATALOG)' | cmp -s - $@ || echo '$(CATALOG)' > $@

$(BUILD)/gen/embed_tool_specs.c: $(BUILD)/embed $(SPECS) $(BUILD)/gen/specs.list
	@mkdir -p $(dir $@)
	@echo "  GEN     $@"
	@$(BUILD)/embed px_embed_tool_specs $(SPECS) > $@
# The tool table and the handlers' declarations, from the specs (scripts/gen_tools.c); every
# object waits for the header, which tools/handlers.h includes.
$(BUILD)/gen_tools: scripts/gen_tools.c
	@mkdir -p $(dir $@)
	$(CC) -std=c17 -O1 -Wall -Wextra -Werror $(shell pkg-config --cflags json-c) -o $@ $< \
		$(shell pkg-config --libs json-c)
$(BUILD)/gen/tool_table.c $(BUILD)/gen/tool_handlers.h &: $(BUILD)/gen_tools $(SPECS) $(BUILD)/gen/specs.list
	@mkdir -p $(dir $@)
	@echo "  GEN     $@"
	@$(BUILD)/gen_tools $(BUILD)/gen/tool_table.c $(BUILD)/gen/tool_handlers.h \
		$(SPECS)
$(OBJS) $(BUILD)/src/app/main.o $(GEN_OBJS): | $(BUILD)/gen/tool_handlers.h
$(BUILD)/gen/embed_migrations_sqlite.c: $(BUILD)/embed $(MIGRATIONS) $(BUILD)/gen/migrations.list
	@mkdir -p $(dir $@)
	@echo "  GEN     $@"
	@$(BUILD)/embed px_embed_migrations_sqlite $(MIGRATIONS) > $@
$(BUILD)/gen/embed_catalog.c: $(BUILD)/embed $(CATALOG) $(BUILD)/gen/catalog.list
	@mkdir -p $(dir $@)
	@echo "  GEN     $@"
	@$(BUILD)/embed px_embed_catalog $(CATALOG) > $@

tests: $(TEST_BINS)
$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	@echo "  TEST    $@"
	@$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(LIB) $(PKG_LIBS) -lcmocka

# Runs every unit test binary; each is its own process.
check-unit: $(TEST_BINS)
	@fail=0; for t in $(TEST_BINS); do echo "== $$t"; $$t || fail=1; done; exit $$fail

check:
	scripts/test.sh

install: $(BIN)
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/planasonix-mcp

format:
	clang-format -i $(shell find src tests/unit scripts -name '*.[ch]')
format-check:
	clang-format --dry-run --Werror $(shell find src tests/unit scripts -name '*.[ch]')

clean:
	rm -rf build

-include $(OBJS:.o=.d) $(BUILD)/src/app/main.d

# ---- Fuzzing (tests/fuzz; see tests/fuzz/README.md) -----------------------------------------
# fuzz-replay: each target's LLVMFuzzerTestOneInput linked with tests/fuzz/replay.c (no
# libFuzzer) and run over its committed corpus; use MODE=asan (`make MODE=asan fuzz-replay`).
# fuzz: libFuzzer binaries in build/fuzz/, from their own clang ASan+UBSan build of src/.
FUZZ_TARGETS := jsonrpc cron tz schema graph expr csv http
FUZZ_REPLAY_BINS := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/replay_%)

.PHONY: fuzz fuzz-replay
fuzz-replay: $(FUZZ_REPLAY_BINS)
	@export ASAN_OPTIONS=$${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:halt_on_error=1}; \
	export UBSAN_OPTIONS=$${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}; \
	fail=0; inputs=0; crashes=0; \
	for t in $(FUZZ_TARGETS); do \
		out=$$($(BUILD)/fuzz/replay_$$t tests/fuzz/corpus/$$t) || fail=1; \
		echo "$$out"; \
		n=$$(echo "$$out" | sed -n 's/.*: \([0-9]*\) inputs, \([0-9]*\) crashes$$/\1/p'); \
		c=$$(echo "$$out" | sed -n 's/.*: \([0-9]*\) inputs, \([0-9]*\) crashes$$/\2/p'); \
		inputs=$$((inputs + $${n:-0})); crashes=$$((crashes + $${c:-1})); \
	done; \
	echo "fuzz-replay: $$inputs inputs, $$crashes crashes"; exit $$fail

$(BUILD)/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c tests/fuzz/fuzz.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/fuzz -o $@ tests/fuzz/fuzz_$*.c tests/fuzz/replay.c $(LIB) $(PKG_LIBS)

FUZZ_CC ?= clang
FUZZ_OUT := build/fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS := -std=c17 -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN) $(filter-out -Werror,$(WARN)) \
               -D_DEFAULT_SOURCE -Isrc -I$(FUZZ_OUT)/gen $(PKG_CFLAGS)
FUZZ_OBJS := $(SRCS:%.c=$(FUZZ_OUT)/obj/%.o)
FUZZ_GEN_OBJS := $(FUZZ_OUT)/gen/embed_tool_specs.o $(FUZZ_OUT)/gen/embed_migrations_sqlite.o \
                 $(FUZZ_OUT)/gen/embed_catalog.o $(FUZZ_OUT)/gen/tool_table.o
FUZZ_LIB := $(FUZZ_OUT)/libplanasonix.a
FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_OUT)/fuzz_%)

fuzz: $(FUZZ_BINS)

$(FUZZ_OUT)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Itests/fuzz -o $@ $< $(FUZZ_LIB) $(PKG_LIBS)

$(FUZZ_LIB): $(FUZZ_OBJS) $(FUZZ_GEN_OBJS)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_OUT)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC(fuzz) $<"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_OUT)/gen/%.o: $(FUZZ_OUT)/gen/%.c
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_OUT)/embed: scripts/embed.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c17 -O1 -Wall -Wextra -o $@ $<

$(FUZZ_OUT)/gen/tool_table.c $(FUZZ_OUT)/gen/tool_handlers.h &: $(BUILD)/gen_tools $(SPECS) $(FUZZ_OUT)/gen/specs.list
	@mkdir -p $(dir $@)
	$(BUILD)/gen_tools $(FUZZ_OUT)/gen/tool_table.c $(FUZZ_OUT)/gen/tool_handlers.h \
		$(SPECS)
$(FUZZ_OBJS) $(FUZZ_GEN_OBJS): | $(FUZZ_OUT)/gen/tool_handlers.h
$(FUZZ_OUT)/gen/embed_tool_specs.c: $(FUZZ_OUT)/embed $(SPECS) $(FUZZ_OUT)/gen/specs.list
	@mkdir -p $(dir $@)
	$(FUZZ_OUT)/embed px_embed_tool_specs $(SPECS) > $@
$(FUZZ_OUT)/gen/embed_migrations_sqlite.c: $(FUZZ_OUT)/embed $(MIGRATIONS) $(FUZZ_OUT)/gen/migrations.list
	@mkdir -p $(dir $@)
	$(FUZZ_OUT)/embed px_embed_migrations_sqlite $(MIGRATIONS) > $@
$(FUZZ_OUT)/gen/embed_catalog.c: $(FUZZ_OUT)/embed $(CATALOG) $(FUZZ_OUT)/gen/catalog.list
	@mkdir -p $(dir $@)
	$(FUZZ_OUT)/embed px_embed_catalog $(CATALOG) > $@

ifneq ($(filter fuzz build/fuzz/%,$(MAKECMDGOALS)),)
-include $(FUZZ_OBJS:.o=.d)
endif
# ---- end of fuzzing ---------------------------------------------------------------------------
