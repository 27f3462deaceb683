# Build glue for llhttp: compiles Debian's node-llhttp C sources (never copied into this repo)
# into $(BUILD)/libllhttp.a. See fetch-llhttp.sh for where the sources come from.
LLHTTP_ROOT := $(shell mkdir -p $(BUILD) && bash third_party/fetch-llhttp.sh $(BUILD) 2>/dev/null)
LLHTTP_SRC  := $(LLHTTP_ROOT)/llhttp
LLHTTP_INC  := $(LLHTTP_ROOT)/include/llhttp
LLHTTP_LIB  := $(BUILD)/libllhttp.a
LLHTTP_OBJS := $(addprefix $(BUILD)/llhttp/,api.o http.o llhttp.o)

$(BUILD)/llhttp/%.o: $(LLHTTP_SRC)/%.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -fPIC $(SANFLAGS) -w -I$(LLHTTP_INC) -c $< -o $@

$(LLHTTP_LIB): $(LLHTTP_OBJS)
	$(AR) rcs $@ $^
