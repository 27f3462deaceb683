# Robustness targets, included at the end of the top-level Makefile (`-include mk/fuzz.mk`).
#
#   make fuzz [FUZZ_SECONDS=60]   build the libFuzzer targets with clang (ASan+UBSan) into
#                                 build/fuzz/, replay fuzz/corpus/regressions/, then fuzz
#                                 each target for FUZZ_SECONDS
#   make fuzz-build               only build build/fuzz/{connection,uri,resp}_fuzz
#   make fuzz-regress             only replay the seeds and regressions (no fuzzing)
#   make tsan-test                build kvd with SAN=thread (build/san-thread/) and run the
#                                 multi-reactor integration tests against it; fails on any
#                                 ThreadSanitizer report
#
# The fuzz build compiles the same sources (LIB_SRCS, llhttp) with clang and its own flags into
# build/fuzz/, so it never touches the g++ objects in build/. New corpus entries go to
# build/fuzz/corpus/<target>/ (the seeds in fuzz/corpus/<target>/ are only read); crashes go
# to build/fuzz/artifacts/. A crash worth keeping is copied to fuzz/corpus/regressions/<target>/
# once fixed: `make fuzz-regress` and the unit test fuzz/fuzz_replay_test.cc replay it.

FUZZ_SECONDS  ?= 60
# FUZZ_SEED=N makes a run repeatable: the same inputs in the same order (CI sets it, so a slower
# machine runs a prefix of what passed here rather than new inputs).
FUZZ_SEED     ?=
FUZZ_JOBS     ?= 1
FUZZ_MAX_LEN  ?= 8192
FUZZ_CXX      ?= clang++
FUZZ_CC       ?= clang
FUZZ_DIR      := build/fuzz
FUZZ_SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CXXFLAGS := -O1 -g -std=c++20 -Wall -Wno-unused-parameter -MMD -MP -Isrc -DKVD_VERSION='"$(VERSION)"' \
                 -I$(LLHTTP_INC) $(PKG_CFLAGS) $(FUZZ_SANFLAGS) -fsanitize=fuzzer-no-link
FUZZ_TARGETS  := connection uri resp
FUZZ_BINS     := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/%_fuzz)
FUZZ_LIB_OBJS := $(patsubst %.cc,$(FUZZ_DIR)/%.o,$(LIB_SRCS))
FUZZ_LLHTTP_OBJS := $(addprefix $(FUZZ_DIR)/llhttp/,api.o http.o llhttp.o)
FUZZ_DEPS_OK  := $(FUZZ_DIR)/.deps-ok
# FUZZ_JOBS > 1: parallel jobs (libFuzzer writes their logs to fuzz-N.log in the current dir).
FUZZ_PAR      := $(if $(filter-out 1,$(FUZZ_JOBS)),-jobs=$(FUZZ_JOBS) -workers=$(FUZZ_JOBS))

.PHONY: fuzz fuzz-build fuzz-regress tsan-test

# clang and its sanitizer/libFuzzer runtimes (Debian: clang, libclang-rt-14-dev).
$(FUZZ_DEPS_OK):
	@mkdir -p $(dir $@)
	@if ! command -v $(FUZZ_CXX) >/dev/null || ! dpkg-query -W -f='$${Status}' libclang-rt-14-dev 2>/dev/null | grep -q "ok installed"; then \
	  if [ "$$(id -u)" -ne 0 ]; then echo "kvd: run: sudo apt-get install -y clang libclang-rt-14-dev" >&2; exit 1; fi; \
	  echo "kvd: installing clang libclang-rt-14-dev" >&2; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev >/dev/null; }; \
	fi
	@touch $@

$(FUZZ_DIR)/%.o: %.cc | $(FUZZ_DEPS_OK)
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -c $< -o $@

$(FUZZ_DIR)/llhttp/%.o: $(LLHTTP_SRC)/%.c third_party/llhttp.mk | $(FUZZ_DEPS_OK)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -O1 -g -w $(LLHTTP_CFLAGS) $(FUZZ_SANFLAGS) -fsanitize=fuzzer-no-link -I$(LLHTTP_INC) -c $< -o $@

$(FUZZ_DIR)/%_fuzz: $(FUZZ_DIR)/fuzz/%_fuzz.o $(FUZZ_LIB_OBJS) $(FUZZ_LLHTTP_OBJS)
	$(FUZZ_CXX) $(FUZZ_SANFLAGS) -fsanitize=fuzzer $^ $(PKG_LIBS) -pthread -o $@

fuzz-build: $(FUZZ_BINS)

# Every seed and every saved crash, once each (libFuzzer runs the files given and exits).
fuzz-regress: $(FUZZ_BINS)
	@mkdir -p $(FUZZ_DIR)/artifacts; set -e; for t in $(FUZZ_TARGETS); do \
	  files=$$(find fuzz/corpus/$$t fuzz/corpus/regressions/$$t -type f ! -name '.*' 2>/dev/null | sort); \
	  echo "fuzz-regress: $$t: $$(echo "$$files" | grep -c .) inputs"; \
	  [ -z "$$files" ] || ASAN_OPTIONS=detect_leaks=1 $(FUZZ_DIR)/$${t}_fuzz -artifact_prefix=$(FUZZ_DIR)/artifacts/regress-$$t- $$files > $(FUZZ_DIR)/regress-$$t.log 2>&1 || \
	    { tail -40 $(FUZZ_DIR)/regress-$$t.log; echo "fuzz-regress: $$t FAILED (log: $(FUZZ_DIR)/regress-$$t.log)"; exit 1; }; \
	done

fuzz: fuzz-regress
	@set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_DIR)/corpus/$$t $(FUZZ_DIR)/artifacts; \
	  dict=""; [ -f fuzz/$$t.dict ] && dict="-dict=fuzz/$$t.dict"; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS)s (log: $(FUZZ_DIR)/fuzz-$$t.log)"; \
	  if ! $(FUZZ_DIR)/$${t}_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=$(FUZZ_MAX_LEN) -timeout=10 \
	       -rss_limit_mb=2048 -print_final_stats=1 $(FUZZ_PAR) $(if $(FUZZ_SEED),-seed=$(FUZZ_SEED)) $$dict \
	       -artifact_prefix=$(FUZZ_DIR)/artifacts/$$t- \
	       $(FUZZ_DIR)/corpus/$$t fuzz/corpus/$$t fuzz/corpus/regressions/$$t \
	       > $(FUZZ_DIR)/fuzz-$$t.log 2>&1; then \
	    tail -60 $(FUZZ_DIR)/fuzz-$$t.log; \
	    echo "fuzz: $$t FOUND A PROBLEM; input saved as $$(ls -t $(FUZZ_DIR)/artifacts/$$t-* 2>/dev/null | head -1)"; \
	    echo "fuzz: after fixing, copy it to fuzz/corpus/regressions/$$t/"; exit 1; \
	  fi; \
	  grep -E 'DONE|stat::number_of_executed_units|stat::peak_rss_mb' $(FUZZ_DIR)/fuzz-$$t.log | sed "s/^/fuzz: $$t: /"; \
	done; echo "fuzz: no crash in $(FUZZ_SECONDS)s per target"

# ThreadSanitizer: the multi-reactor integration tests against a SAN=thread kvd. TSan reports go
# to files (log_path), which are checked after the run; exitcode=0 keeps kvd's exit status as
# the tests expect it.
# The filters are substrings of test ids: "test_resp." keeps its dot, or test_http.HttpTest.test_responses_... matches.
TSAN_TESTS ?= test_concurrency test_kvbench test_shutdown test_metrics DataSafety test_resp.
TSAN_LOG   := build/san-thread/tsan-logs
tsan-test:
	$(MAKE) --no-print-directory SAN=thread build/san-thread/kvd
	$(MAKE) --no-print-directory kvbench
	@rm -rf $(TSAN_LOG) && mkdir -p $(TSAN_LOG)
	KVD_BIN=$(abspath build/san-thread/kvd) KVBENCH_BIN=$(abspath kvbench) \
	  TSAN_OPTIONS="log_path=$(abspath $(TSAN_LOG))/kvd exitcode=0 halt_on_error=0 second_deadlock_stack=1" \
	  python3 tests/integration/runner.py $(TSAN_LOG)/result.txt $(TSAN_TESTS)
	@read -r p f < $(TSAN_LOG)/result.txt; \
	races=$$(cat $(TSAN_LOG)/kvd.* 2>/dev/null | grep -c "WARNING: ThreadSanitizer" || true); \
	echo "tsan-test: $$p passed, $$f failed, $$races ThreadSanitizer warnings"; \
	if [ "$$races" -gt 0 ]; then grep -h -A30 "WARNING: ThreadSanitizer" $(TSAN_LOG)/kvd.* | head -120; fi; \
	[ "$$f" -eq 0 ] && [ "$$races" -eq 0 ]

-include $(FUZZ_LIB_OBJS:.o=.d) $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz/%_fuzz.d)
# Keep the objects (they are only named in pattern rules, which would make them intermediate).
.SECONDARY: $(FUZZ_LIB_OBJS) $(FUZZ_LLHTTP_OBJS) $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz/%_fuzz.o)
