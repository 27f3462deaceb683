# Build glue for llhttp: compiles Debian's node-llhttp C sources (never copied into this repo)
# into $(BUILD)/libllhttp.a. See fetch-llhttp.sh for where the sources come from.
LLHTTP_ROOT := $(shell mkdir -p $(BUILD) && bash third_party/fetch-llhttp.sh $(BUILD) 2>/dev/null)
LLHTTP_SRC  := $(LLHTTP_ROOT)/llhttp
LLHTTP_INC  := $(LLHTTP_ROOT)/include/llhttp
LLHTTP_LIB  := $(BUILD)/libllhttp.a
LLHTTP_OBJS := $(addprefix $(BUILD)/llhttp/,api.o http.o llhttp.o)
# llhttp.c holds two parsers; the strict one refuses a CR followed by anything but LF in chunk
# framing and at the end of the header section, and non-ASCII or whitespace bytes in the target
# (docs/http.md). The objects depend on this file, so a change of flags rebuilds them.
LLHTTP_CFLAGS := -DLLHTTP_STRICT_MODE=1

$(BUILD)/llhttp/%.o: $(LLHTTP_SRC)/%.c third_party/llhttp.mk | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -fPIC $(SANFLAGS) -w $(LLHTTP_CFLAGS) -I$(LLHTTP_INC) -c $< -o $@

$(LLHTTP_LIB): $(LLHTTP_OBJS)
	$(AR) rcs $@ $^
