# kvd — `make` builds ./kvd and ./kvbench, `make test` runs every test, `make run` starts kvd.
# `make SAN=address,undefined test` builds and tests a sanitized copy under build/san-*/.
# Missing Debian packages are installed first (as root) or named with the command to run.

CXX      ?= g++
CC       ?= gcc
SAN      ?=
WERROR   ?=
BUILD    ?= $(if $(SAN),build/san-$(subst $(comma),-,$(SAN)),build)
comma    := ,

ifeq ($(filter clean,$(MAKECMDGOALS)),)
DEPS_KIND := $(if $(filter test check fuzz tsan-test,$(MAKECMDGOALS)),test,build)
DEPS_OK := $(shell bash scripts/ops/install-deps.sh $(DEPS_KIND) >&2 && echo ok)
ifneq ($(DEPS_OK),ok)
$(error missing build dependencies, see the message above)
endif
endif

# UBSan's vptr check is left out: to tell a vtable from garbage it writes it into a pipe, which
# needs two free descriptors, so a kvd tested out of descriptors (test_resources) has every object
# whose type is not yet in the check's cache reported as having an "invalid vptr".
SANFLAGS := $(if $(SAN),-fsanitize=$(SAN) $(if $(findstring undefined,$(SAN)),-fno-sanitize=vptr) \
              -fno-omit-frame-pointer -fno-sanitize-recover=all)
PKGS     := fmt absl_flags absl_flags_parse absl_flags_usage absl_raw_hash_set absl_hash \
            absl_strings absl_str_format absl_time absl_synchronization
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS))

# kvd's one version string (util/version.h): --version, kvd_build_info, RESP's INFO.
VERSION  := 0.2.0

CXXFLAGS ?= -O2 -g
CXXFLAGS += -std=c++20 -Wall -Wextra -Wshadow -Wno-unused-parameter $(if $(WERROR),-Werror) \
            -MMD -MP -Isrc -Itools -I$(LLHTTP_INC) $(PKG_CFLAGS) $(SANFLAGS) -DKVD_VERSION='"$(VERSION)"'
LDFLAGS  += $(SANFLAGS) -pthread
DEPS_STAMP :=
.DEFAULT_GOAL := all

include third_party/llhttp.mk

# src/ is the server; tools/ (kvbench, kvfloor, cachesim) and fuzz/ are built beside it.
LIB_SRCS   := $(filter-out %_test.cc src/main.cc,$(shell find src -name "*.cc"))
TEST_SRCS  := $(shell find src tools fuzz -name '*_test.cc' 2>/dev/null)
BENCH_SRCS := $(shell find tools/kvbench -name '*.cc' -not -name '*_test.cc' 2>/dev/null)
LIB_OBJS   := $(LIB_SRCS:%.cc=$(BUILD)/%.o)
TEST_OBJS  := $(TEST_SRCS:%.cc=$(BUILD)/%.o)
BENCH_OBJS := $(BENCH_SRCS:%.cc=$(BUILD)/%.o)
BENCH_LIB_OBJS := $(filter-out %/main.o,$(BENCH_OBJS))

KVD      := $(if $(SAN),$(BUILD)/kvd,kvd)
KVBENCH  := $(if $(SAN),$(BUILD)/kvbench,kvbench)
KVFLOOR  := $(BUILD)/kvfloor
UNIT     := $(BUILD)/unit_tests

PREFIX   ?= /usr/local
DESTDIR  ?=

.PHONY: all run test unit integration clean install uninstall
all: $(KVD) $(if $(BENCH_SRCS),$(KVBENCH)) $(KVFLOOR)

$(BUILD)/%.o: %.cc $(LLHTTP_LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(KVD): $(BUILD)/src/main.o $(LIB_OBJS) $(LLHTTP_LIB)
	$(CXX) $(LDFLAGS) $^ $(PKG_LIBS) -o $@

# kvbench shares only util/ with kvd: kvd's flags (src/config) would clash with its own.
$(KVBENCH): $(BENCH_OBJS) $(BUILD)/src/util/flag_names.o
	$(CXX) $(LDFLAGS) $^ $(PKG_LIBS) -o $@

# The benchmarks' cost floor (tools/kvfloor): a fixed-response epoll loop, not part of kvd.
$(KVFLOOR): $(BUILD)/tools/kvfloor/floor_server.o
	$(CXX) $(LDFLAGS) $^ $(PKG_LIBS) -o $@

$(UNIT): $(TEST_OBJS) $(LIB_OBJS) $(BENCH_LIB_OBJS) $(LLHTTP_LIB)
	$(CXX) $(LDFLAGS) $^ $(PKG_LIBS) -o $@

# The store's scaling across threads, without the network (tools/storebench); STOREBENCH_FLAGS
# are passed on (e.g. --threads=1,2,4 --shards=x1,x8).
STOREBENCH := $(BUILD)/storebench
# It links the store alone (kvd's flags, in src/config, would clash with its own).
$(STOREBENCH): $(BUILD)/tools/storebench/storebench.o $(filter $(BUILD)/src/store/%,$(LIB_OBJS)) $(BUILD)/src/util/flag_names.o
	$(CXX) $(LDFLAGS) $^ $(PKG_LIBS) -o $@
.PHONY: store-bench
store-bench: $(STOREBENCH)
	$(STOREBENCH) $(STOREBENCH_FLAGS)

run: $(KVD)
	./$(KVD)

unit: $(UNIT)
	$(UNIT)

test: all $(UNIT) $(STOREBENCH)
	KVD_BIN=$(abspath $(KVD)) KVBENCH_BIN=$(abspath $(KVBENCH)) KVFLOOR_BIN=$(abspath $(KVFLOOR)) UNIT_BIN=$(abspath $(UNIT)) \
	  STOREBENCH_BIN=$(abspath $(STOREBENCH)) KVD_SAN=$(SAN) \
	  bash tests/run.sh

# Installs the binaries, and the systemd unit with its paths rewritten for PREFIX.
install: $(KVD) $(KVBENCH)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 0755 $(KVD) $(DESTDIR)$(PREFIX)/bin/kvd
	install -m 0755 $(KVBENCH) $(DESTDIR)$(PREFIX)/bin/kvbench
	if [ -f deploy/systemd/kvd.service ]; then \
	  sed 's|/usr/local/bin/kvd|$(PREFIX)/bin/kvd|' deploy/systemd/kvd.service \
	    > $(DESTDIR)$(PREFIX)/lib/systemd/system/kvd.service; fi

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/kvd $(DESTDIR)$(PREFIX)/bin/kvbench \
	  $(DESTDIR)$(PREFIX)/lib/systemd/system/kvd.service

clean:
	rm -rf build kvd kvbench

-include $(LIB_OBJS:.o=.d) $(TEST_OBJS:.o=.d) $(BENCH_OBJS:.o=.d) $(BUILD)/src/main.d
-include mk/fuzz.mk
-include mk/cachesim.mk
