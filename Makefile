# pinpipe — PGXS build.
#   make && make install          build and install the extension and tools
#   make unit                     pure-C unit tests of the cleaning core (no server), and the
#                                 test command's argument handling (test/unit/test_command.sh)
#   make fuzz                     libFuzzer target over the pin parser (clang)
# Tests against a real server: scripts/test.sh (the README's test command).

EXTENSION  = pinpipe
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" pinpipe.control)

MODULE_big = pinpipe
SRCS       = $(sort $(wildcard src/*.c src/*/*.c))
OBJS       = $(SRCS:.c=.o)

# The install script is assembled from one fragment per concern (sql/install/NN_name.sql).
INSTALL_FRAGMENTS = $(sort $(wildcard sql/install/*.sql))
# Released versions' install scripts are frozen in sql/ (pinpipe--X.Y.Z.sql) beside the
# upgrade scripts (pinpipe--A--B.sql), so every ALTER EXTENSION UPDATE path stays testable.
DATA_built = $(EXTENSION)--$(EXTVERSION).sql
DATA       = $(wildcard sql/$(EXTENSION)--*.sql)

# pg_regress: one file per feature in sql/, expected output in expected/.
REGRESS      = $(patsubst sql/%.sql,%,$(sort $(filter-out sql/$(EXTENSION)--%,$(wildcard sql/*.sql))))
REGRESS_OPTS = --load-extension=pinpipe

# pg_isolation_regress: concurrency specs in specs/, expected output in expected/.
ISOLATION      = $(patsubst specs/%.spec,%,$(sort $(wildcard specs/*.spec)))
ISOLATION_OPTS = --load-extension=pinpipe

# Source folders (README, "What is here"): core = pure C (no PostgreSQL headers), write =
# the one write path, http = the HTTP worker, kafka = the Kafka workers, sql = SQL-callable
# glue, worker = what every worker shares; pinpipe.c and pg_compat.h stay at the top.
SRC_DIRS = src $(sort $(dir $(wildcard src/*/*.c src/*/*.h)))
SRC_INCLUDES = $(addprefix -I,$(patsubst %/,%,$(SRC_DIRS)))

# Pure modules: no backend state; also linked into unit tests, fuzzers and tools.
PURE_SRCS = src/core/text.c src/core/pin_json.c src/core/clean.c src/core/topic_stream.c src/core/strbuf.c

SHLIB_LINK = -lrdkafka -lmicrohttpd

# Our own code is warning-free under -Wextra; PostgreSQL's headers are included as system
# headers so their warnings do not count against us. Unused parameters are normal in
# PostgreSQL callback signatures (hooks, SIGHUP handlers), hence that one exception.
PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
INCLUDEDIR_SERVER := $(shell $(PG_CONFIG) --includedir-server)
PG_CPPFLAGS = -isystem $(INCLUDEDIR_SERVER) $(SRC_INCLUDES)
PG_CFLAGS   = -Wall -Wextra -Werror -Wno-unused-parameter -std=gnu99 -MMD -MP

TOOLS = tools/pinpipe-devbroker tools/pinpipe-emulate
TOOL_CFLAGS = -O2 -g -Wall -Wextra -Werror -std=gnu99 $(SRC_INCLUDES)

# Before the PGXS include: pgxs.mk adds the clean rule for EXTRA_CLEAN only if it is set.
EXTRA_CLEAN = $(DIST).tar.gz $(OBJS:.o=.d) $(TOOLS) test/unit/test_clean test/unit/test_prom test/unit/test_strbuf test/unit/test_http_framing test/unit/test_consumer_prefetch test/unit/test_http_request test/unit/test_emulate test/fuzz/fuzz_pin results regression.diffs regression.out

include $(PGXS)

# Export only what PostgreSQL looks up (SQL functions, worker entry points, _PG_init and
# the magic block), each marked PGDLLEXPORT. From PostgreSQL 16 PGXS builds modules with
# -fvisibility=hidden and PGDLLEXPORT means default visibility; before, PGDLLEXPORT is
# empty on ELF platforms, so both are set here.
override CFLAGS += -fvisibility=hidden
ifeq ($(shell test $(MAJORVERSION) -lt 16 && echo old),old)
override CPPFLAGS += -DPGDLLEXPORT='__attribute__((visibility("default")))'
endif

# Header dependencies (PGXS does not track them): a changed struct rebuilds its users.
-include $(OBJS:.o=.d)

all: $(DATA_built) tools

$(DATA_built): $(INSTALL_FRAGMENTS) pinpipe.control
	{ echo '-- generated from sql/install/*.sql by make; edit the fragments, not this file'; \
	  printf '%s\n' '\echo Use "CREATE EXTENSION pinpipe" to load this file. \quit'; \
	  for f in $(INSTALL_FRAGMENTS); do echo; echo "-- ---- $$f"; cat $$f; done; } > $@

tools: $(filter $(patsubst %.c,%,$(wildcard tools/*.c)),$(TOOLS))

DEVBROKER_SRCS = $(sort $(wildcard tools/devbroker/*.c))
tools/pinpipe-devbroker: tools/pinpipe-devbroker.c $(DEVBROKER_SRCS) $(wildcard tools/devbroker/*.h)
	$(CC) $(TOOL_CFLAGS) -Itools/devbroker -o $@ $< $(DEVBROKER_SRCS) -lrdkafka

# Needs only libcurl and the pure modules (no PostgreSQL): it builds on a client machine.
EMULATE_SRCS = $(sort $(wildcard tools/emulate/*.c))
tools/pinpipe-emulate: tools/pinpipe-emulate.c $(EMULATE_SRCS) $(wildcard tools/emulate/*.h) $(PURE_SRCS) src/core/text.h src/core/pin_json.h src/core/clean.h src/core/strbuf.h
	$(CC) $(TOOL_CFLAGS) -Itools/emulate -o $@ $< $(EMULATE_SRCS) $(PURE_SRCS) -lcurl -lm

install: install-tools
install-tools: tools
	$(MKDIR_P) '$(DESTDIR)$(bindir)'
	for t in $(wildcard $(TOOLS)); do $(INSTALL_PROGRAM) $$t '$(DESTDIR)$(bindir)/'; done

test/unit/test_clean: test/unit/test_clean.c test/unit/unit_check.h $(PURE_SRCS) src/core/text.h src/core/pin_json.h src/core/clean.h src/core/topic_stream.h
	$(CC) $(TOOL_CFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=all -o $@ test/unit/test_clean.c $(PURE_SRCS)

test/unit/test_prom: test/unit/test_prom.c test/unit/unit_check.h src/core/prom_format.c src/core/prom_format.h $(PURE_SRCS) src/core/strbuf.h
	$(CC) $(TOOL_CFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=all -o $@ test/unit/test_prom.c src/core/prom_format.c $(PURE_SRCS) -lm

test/unit/test_strbuf: test/unit/test_strbuf.c test/unit/unit_check.h $(PURE_SRCS) src/core/strbuf.h src/core/pin_json.h
	$(CC) $(TOOL_CFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=all -o $@ test/unit/test_strbuf.c $(PURE_SRCS)

test/unit/test_consumer_prefetch: test/unit/test_consumer_prefetch.c test/unit/unit_check.h src/core/consumer_prefetch.c src/core/consumer_prefetch.h
	$(CC) $(TOOL_CFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=all -o $@ test/unit/test_consumer_prefetch.c src/core/consumer_prefetch.c

test/unit/test_http_framing: test/unit/test_http_framing.c test/unit/unit_check.h src/core/http_framing.c src/core/http_framing.h
	$(CC) $(TOOL_CFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=all -o $@ test/unit/test_http_framing.c src/core/http_framing.c

# The HTTP request layer alone: a real libmicrohttpd daemon, a fake backend, stubbed metrics.
HTTP_REQUEST_SRCS = src/http/http_request.c src/http/http_restproxy.c
test/unit/test_http_request: test/unit/test_http_request.c test/unit/unit_check.h $(HTTP_REQUEST_SRCS) src/http/http_request.h src/http/http_restproxy.h src/http/http_endpoint.h $(PURE_SRCS) src/core/pin_json.h src/core/strbuf.h src/core/topic_stream.h
	$(CC) $(TOOL_CFLAGS) -Wno-unused-parameter -fsanitize=address,undefined -fno-sanitize-recover=all -o $@ test/unit/test_http_request.c $(HTTP_REQUEST_SRCS) $(PURE_SRCS) -lmicrohttpd

# pinpipe-emulate's pure parts (strict answer readers, row pairing); no network.
EMULATE_UNIT_SRCS = tools/emulate/emu_answer.c tools/emulate/emu_rows.c
test/unit/test_emulate: test/unit/test_emulate.c test/unit/unit_check.h $(EMULATE_UNIT_SRCS) $(wildcard tools/emulate/*.h) $(PURE_SRCS) src/core/strbuf.h src/core/pin_json.h
	$(CC) $(TOOL_CFLAGS) -Itools/emulate -fsanitize=address,undefined -fno-sanitize-recover=all -o $@ test/unit/test_emulate.c $(EMULATE_UNIT_SRCS) $(PURE_SRCS)

unit: test/unit/test_clean test/unit/test_strbuf test/unit/test_prom test/unit/test_http_framing test/unit/test_consumer_prefetch test/unit/test_http_request test/unit/test_emulate
	./test/unit/test_strbuf
	./test/unit/test_http_framing
	./test/unit/test_consumer_prefetch
	./test/unit/test_prom
	./test/unit/test_http_request
	./test/unit/test_emulate
	./test/unit/test_clean
	bash test/unit/test_command.sh

test/fuzz/fuzz_pin: test/fuzz/fuzz_pin.c $(PURE_SRCS) src/core/text.h src/core/pin_json.h src/core/clean.h
	clang -g -O1 -fsanitize=fuzzer,address,undefined $(SRC_INCLUDES) -o $@ test/fuzz/fuzz_pin.c $(PURE_SRCS)

fuzz: test/fuzz/fuzz_pin

# The REGRESS list, for test/regress.sh (pg_regress --temp-instance).
regress-list:
	@echo $(REGRESS)

# The pure modules, for builds outside this Makefile (test/t/45_emulate.sh's ASan build).
pure-srcs:
	@echo $(PURE_SRCS)

# A release tarball of the committed tree (what PGXN and debian/ build from); prints its path.
DIST = $(EXTENSION)-$(EXTVERSION)
dist:
	@test "$$(grep -E '^( {3}| {9})"version"' META.json | sed 's/.*: "\(.*\)".*/\1/' | sort -u)" = "$(EXTVERSION)" || \
		{ echo "META.json versions differ from pinpipe.control's $(EXTVERSION)" >&2; exit 1; }
	@git archive --format=tar.gz --prefix=$(DIST)/ -o $(DIST).tar.gz HEAD
	@echo $(CURDIR)/$(DIST).tar.gz

# Every C file follows .clang-format (Debian bookworm's clang-format 14: formatting twice
# changes nothing). format rewrites them; format-check (the test command's format layer)
# fails on any file that differs.
C_FILES = $(sort $(wildcard src/*.[ch] src/*/*.[ch] tools/*.[ch] tools/emulate/*.[ch] tools/devbroker/*.[ch] test/unit/*.[ch] test/fuzz/*.[ch]))
format:
	clang-format -i $(C_FILES)
format-check:
	@bash test/format.sh $(C_FILES)


.PHONY: tools install-tools unit fuzz format format-check regress-list pure-srcs dist
