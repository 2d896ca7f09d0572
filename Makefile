# Planasonix build. `make` builds build/release/planasonix-mcp; `make MODE=asan` builds the
# ASan+UBSan variant in build/asan; `make check` runs every test (see scripts/test.sh).
MODE ?= release
BUILD := build/$(MODE)
PREFIX ?= /usr/local
CC ?= cc

PKGS := json-c libsodium sqlite3
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS := $(shell pkg-config --libs $(PKGS)) -lpthread -lm

# One list of warnings; every one is an error.
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
        -Wvla -Wpointer-arith -Wundef -Wimplicit-fallthrough -Wcast-qual -Wnull-dereference \
        -Wwrite-strings -Wold-style-definition

ifeq ($(MODE),asan)
OPT := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else ifeq ($(MODE),release)
OPT := -O2 -g
else
$(error MODE must be release or asan)
endif

CFLAGS := -std=c17 $(OPT) $(WARN) -D_DEFAULT_SOURCE -Isrc -I$(BUILD)/gen $(PKG_CFLAGS)
LDFLAGS := $(OPT)

SRCS := $(shell find src -name '*.c' ! -path 'src/app/main.c' | sort)
OBJS := $(SRCS:%.c=$(BUILD)/%.o)
GEN_SRCS := $(BUILD)/gen/embed_tool_specs.c $(BUILD)/gen/embed_migrations_sqlite.c \
            $(BUILD)/gen/embed_catalog.c
GEN_OBJS := $(GEN_SRCS:.c=.o)
LIB := $(BUILD)/libplanasonix.a
BIN := $(BUILD)/planasonix-mcp

TEST_SRCS := $(sort $(wildcard tests/unit/test_*.c))
TEST_BINS := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all tests check check-unit install clean format format-check
all: $(BIN)

$(BIN): $(BUILD)/src/app/main.o $(LIB)
	@echo "  LINK    $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

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

$(BUILD)/gen/embed_tool_specs.c: $(BUILD)/embed $(wildcard src/tools/specs/*.json)
	@mkdir -p $(dir $@)
	$(BUILD)/embed px_embed_tool_specs $(wildcard src/tools/specs/*.json) > $@
$(BUILD)/gen/embed_migrations_sqlite.c: $(BUILD)/embed $(wildcard src/store/migrations/sqlite/*.sql)
	@mkdir -p $(dir $@)
	$(BUILD)/embed px_embed_migrations_sqlite $(wildcard src/store/migrations/sqlite/*.sql) > $@
$(BUILD)/gen/embed_catalog.c: $(BUILD)/embed $(wildcard src/engine/catalog/*.json)
	@mkdir -p $(dir $@)
	$(BUILD)/embed px_embed_catalog $(wildcard src/engine/catalog/*.json) > $@

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
