# cachesim (tools/cachesim): the offline cache simulator, included from the top-level Makefile
# (`-include mk/cachesim.mk`). It is a tool, not part of kvd: it shares no sources with it.
#
#   make cachesim        build build/cachesim
# Its doctest unit tests (tools/cachesim/*_test.cc) are part of the unit test binary.

CACHESIM      := $(BUILD)/cachesim
CACHESIM_HDRS := $(wildcard tools/cachesim/*.h)
CACHESIM_LIBS := $(shell pkg-config --libs fmt)

.PHONY: cachesim
cachesim: $(CACHESIM)

$(BUILD)/tools/cachesim/%.o: tools/cachesim/%.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(CACHESIM): $(BUILD)/tools/cachesim/cachesim.o
	$(CXX) $(LDFLAGS) $^ $(CACHESIM_LIBS) -o $@

-include $(BUILD)/tools/cachesim/cachesim.d
