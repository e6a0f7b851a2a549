# Makefile — builds the mailcluster extension with PGXS, and the pure cores'
# unit tests, simulators and fuzzers with the plain C compiler.
#
#   make / make install     the extension (needs postgresql-server-dev-15)
#   make unit               core unit tests      (test/unit/test_*.c)
#   make sim SEEDS=N        deterministic simulations (test/sim/*_sim.c)
#   make fuzz FUZZ_SECONDS=N  libFuzzer targets  (test/fuzz/fuzz_*.c)
#   make installcheck       pg_regress + TAP against the installed extension
#
# New core files, tests, sims and fuzz targets are picked up by wildcard.

EXTENSION = mailcluster
MODULE_big = mailcluster
# The install script is assembled from src/sql/*.sql in name order, so each
# part of the schema (foundation, raft, jmap, ...) lives in its own file.
DATA_built = sql/mailcluster--0.1.sql
SQL_PARTS = $(sort $(wildcard src/sql/*.sql))
PGFILEDESC = "mailcluster - replicated JMAP mail store on Raft and SWIM"

CORE_SRCS = $(sort $(wildcard src/core/*.c))
PG_SRCS = $(sort $(wildcard src/pg/*.c))
OBJS = $(CORE_SRCS:.c=.o) $(PG_SRCS:.c=.o)

GMIME_CFLAGS := $(shell pkg-config --cflags gmime-3.0 2>/dev/null)
GMIME_LIBS := $(shell pkg-config --libs gmime-3.0 2>/dev/null)
PG_CPPFLAGS = -Isrc/core -Isrc/pg $(GMIME_CFLAGS)
SHLIB_LINK = -lsodium $(GMIME_LIBS) -lm

REGRESS = $(patsubst sql/%.sql,%,$(sort $(filter-out sql/mailcluster--%,$(wildcard sql/*.sql))))
REGRESS_OPTS = --temp-instance=tmp_check --temp-config=test/regress.conf --inputdir=. --load-extension=mailcluster
TAP_TESTS = 1
PROVE_TESTS = $(sort $(wildcard test/tap/t/*.pl))

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies here: rebuild every object when any
# header changes, so a changed struct never links against stale objects.
$(OBJS): $(wildcard src/core/*.h src/pg/*.h)

sql/mailcluster--0.1.sql: $(SQL_PARTS)
	cat $(SQL_PARTS) > $@

# ---- pure cores: unit tests, simulators, fuzzers (no PostgreSQL) ----------
BUILD = build
TCC = cc
TCFLAGS = -std=gnu11 -g -O1 -Wall -Wextra -Wno-unused-parameter -Isrc/core -Itest/unit \
	-fsanitize=address,undefined -fno-omit-frame-pointer
SIMFLAGS = -std=gnu11 -g -O2 -Wall -Wextra -Wno-unused-parameter -Isrc/core -Itest/unit -Itest/sim
TLIBS = -lsodium -lm
SEEDS ?= 2000
FUZZ_SECONDS ?= 20

UNIT_SRCS = $(sort $(wildcard test/unit/test_*.c))
UNIT_BINS = $(patsubst test/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))
SIM_SRCS = $(sort $(wildcard test/sim/*_sim.c))
SIM_BINS = $(patsubst test/sim/%.c,$(BUILD)/sim/%,$(SIM_SRCS))
SIM_SUPPORT = $(filter-out $(SIM_SRCS),$(wildcard test/sim/*.c))
BENCH_SRCS = $(sort $(wildcard bench/*.c))
BENCH_BINS = $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))
FUZZ_SRCS = $(sort $(wildcard test/fuzz/fuzz_*.c))
FUZZ_BINS = $(patsubst test/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
CORE_HDRS = $(wildcard src/core/*.h)

$(BUILD)/unit/%: test/unit/%.c $(CORE_SRCS) $(CORE_HDRS) test/unit/testutil.h
	@mkdir -p $(dir $@)
	$(TCC) $(TCFLAGS) -o $@ $< $(CORE_SRCS) $(TLIBS)

$(BUILD)/sim/%: test/sim/%.c $(SIM_SUPPORT) $(CORE_SRCS) $(CORE_HDRS) $(wildcard test/sim/*.h)
	@mkdir -p $(dir $@)
	$(TCC) $(SIMFLAGS) -o $@ $< $(SIM_SUPPORT) $(CORE_SRCS) $(TLIBS)

$(BUILD)/bench/%: bench/%.c $(SIM_SUPPORT) $(CORE_SRCS) $(CORE_HDRS) $(wildcard test/sim/*.h)
	@mkdir -p $(dir $@)
	$(TCC) $(SIMFLAGS) -o $@ $< $(SIM_SUPPORT) $(CORE_SRCS) $(TLIBS)

$(BUILD)/fuzz/%: test/fuzz/%.c $(CORE_SRCS) $(CORE_HDRS)
	@mkdir -p $(dir $@)
	clang -std=gnu11 -g -O1 -Isrc/core -fsanitize=fuzzer,address,undefined -o $@ $< $(CORE_SRCS) $(TLIBS)

.PHONY: unit sim fuzz core-check bench-core
bench-core: $(BENCH_BINS)
	@for b in $(BENCH_BINS); do ./$$b; done

unit: $(UNIT_BINS)
	@rc=0; for t in $(UNIT_BINS); do ./$$t || rc=1; done; exit $$rc

# Each simulator takes --seeds N and prints "<name> seeds=N violations=V".
sim: $(SIM_BINS)
	@rc=0; for s in $(SIM_BINS); do ./$$s --seeds $(SEEDS) || rc=1; done; exit $$rc

fuzz: $(FUZZ_BINS)
	@rc=0; for f in $(FUZZ_BINS); do \
		mkdir -p $(BUILD)/corpus/$$(basename $$f); \
		./$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 \
			$(BUILD)/corpus/$$(basename $$f) $$( [ -d test/fuzz/seeds/$$(basename $$f) ] && echo test/fuzz/seeds/$$(basename $$f) ) \
			2>$(BUILD)/fuzz/$$(basename $$f).log || { rc=1; tail -40 $(BUILD)/fuzz/$$(basename $$f).log; }; \
		echo "fuzz $$(basename $$f): $$(grep -o 'Done [0-9]* runs' $(BUILD)/fuzz/$$(basename $$f).log)"; \
	done; exit $$rc

core-check: unit sim

clean: clean-core
clean-core:
	rm -rf $(BUILD)
