# cachesim (tools/cachesim): the offline cache simulator, included from the top-level Makefile
# (`-include mk/cachesim.mk`). It is a tool, not part of kvd: it shares no sources with it.
#
#   make cachesim        build build/cachesim
#   make cachesim-test   build and run its doctest unit tests (build/cachesim_test); `make test`
#                        runs them too, before the kvd suite

CACHESIM      := $(BUILD)/cachesim
CACHESIM_TEST := $(BUILD)/cachesim_test
CACHESIM_HDRS := $(wildcard tools/cachesim/*.h)
CACHESIM_LIBS := $(shell pkg-config --libs fmt)

.PHONY: cachesim cachesim-test
cachesim: $(CACHESIM)
cachesim-test: $(CACHESIM_TEST)
	$(CACHESIM_TEST)
test: cachesim-test

$(BUILD)/tools/cachesim/%.o: tools/cachesim/%.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(CACHESIM): $(BUILD)/tools/cachesim/cachesim.o
	$(CXX) $(LDFLAGS) $^ $(CACHESIM_LIBS) -o $@

$(CACHESIM_TEST): $(BUILD)/tools/cachesim/cachesim_test.o
	$(CXX) $(LDFLAGS) $^ $(CACHESIM_LIBS) -o $@

-include $(BUILD)/tools/cachesim/cachesim.d $(BUILD)/tools/cachesim/cachesim_test.d
