# Builds the libFuzzer targets with clang, apart from the gcc build: run_fuzz.sh calls
#   make -f tests/fuzz/fuzz.mk SOURCE_DIR=<repository> OUT=<build>/fuzz [targets]
# Objects are cached in OUT/obj and rebuilt only when a source or header they use, or the
# flags, changed. The source list is read at every run, so files added to src/ are picked up.

SOURCE_DIR ?= $(CURDIR)
OUT ?= $(CURDIR)/build/fuzz
FUZZ_CC ?= clang

SRC := $(SOURCE_DIR)/src
FUZZ := $(SOURCE_DIR)/tests/fuzz
TARGETS := decode smtp policy sensor dns mail_login spool

SOURCES := $(filter-out $(SRC)/main.c,$(wildcard $(SRC)/*.c $(SRC)/*/*.c))
OBJECTS := $(patsubst $(SRC)/%.c,$(OUT)/obj/%.o,$(SOURCES))

# The libraries the op25b library links: those the top-level CMakeLists.txt asks pkg-config
# for (other work adds them as src/ grows), the Kafka sink's when it is there, and the base
# three; only those installed are used.
CMAKE_PACKAGES := $(shell grep IMPORTED_TARGET $(SOURCE_DIR)/CMakeLists.txt | \
                    sed 's/.*IMPORTED_TARGET//' | tr -d '\051')
PACKAGES := libpcap yaml-0.1 libcrypto $(CMAKE_PACKAGES)
ifneq ($(wildcard $(SRC)/output/sink_kafka.c),)
PACKAGES += rdkafka
endif
PACKAGES := $(sort $(foreach p,$(PACKAGES),$(shell pkg-config --exists $(p) && echo $(p))))

SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
WARNINGS := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wno-missing-field-initializers
CFLAGS := -std=gnu11 -g -O1 $(SANITIZE) $(WARNINGS) -I$(SRC) \
          -D_GNU_SOURCE -DOP25B_VERSION=\"fuzz\" \
          $(shell pkg-config --cflags $(PACKAGES))
LIBS := $(shell pkg-config --libs $(PACKAGES)) -lm

# The sensor target reads this policy unless OP25B_FUZZ_POLICY is set in the environment.
SENSOR_POLICY := $(SOURCE_DIR)/tests/scenarios/edge.yaml

# Objects depend on the flags too: a package added above rebuilds everything.
FLAGS_STAMP := $(OUT)/flags
FLAGS_TEXT := $(FUZZ_CC) $(CFLAGS) $(LIBS) $(SENSOR_POLICY)
$(shell mkdir -p $(OUT) && echo '$(FLAGS_TEXT)' | cmp -s - $(FLAGS_STAMP) || \
        echo '$(FLAGS_TEXT)' >$(FLAGS_STAMP))

.PHONY: all
all: $(addprefix $(OUT)/fuzz_,$(TARGETS))

# Keep the targets' objects between runs (make would delete them as intermediates).
.SECONDARY:

$(OUT)/obj/%.o: $(SRC)/%.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	@echo "fuzz: CC $(<F)"
	@$(FUZZ_CC) $(CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

# Rebuilt from scratch each time, so an object whose source was removed leaves with it.
$(OUT)/libop25b_fuzz.a: $(OBJECTS)
	@rm -f $@
	@echo "fuzz: AR $(@F)"
	@ar rcs $@ $^

$(OUT)/obj/fuzz_%.o: $(FUZZ)/fuzz_%.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	@echo "fuzz: CC $(<F)"
	@$(FUZZ_CC) $(CFLAGS) -fsanitize=fuzzer -DOP25B_FUZZ_POLICY=\"$(SENSOR_POLICY)\" \
	    -MMD -MP -c $< -o $@

$(OUT)/fuzz_%: $(OUT)/obj/fuzz_%.o $(OUT)/libop25b_fuzz.a
	@echo "fuzz: LD $(@F)"
	@$(FUZZ_CC) $(SANITIZE) -fsanitize=fuzzer $^ $(LIBS) -o $@

# The whole pipeline builds nDPI's detection module per sensor: fuzz_ndpi_once.c says why
# the fuzz build shares one.
comma := ,
ifneq ($(filter libndpi,$(PACKAGES)),)
NDPI_ONCE := $(OUT)/obj/fuzz_ndpi_once.o
NDPI_WRAP := $(addprefix -Wl$(comma)--wrap=,ndpi_init_detection_module \
               ndpi_finalize_initialization ndpi_exit_detection_module)
endif

$(OUT)/fuzz_sensor: $(OUT)/obj/fuzz_sensor.o $(NDPI_ONCE) $(OUT)/libop25b_fuzz.a
	@echo "fuzz: LD $(@F)"
	@$(FUZZ_CC) $(SANITIZE) -fsanitize=fuzzer $(NDPI_WRAP) $^ $(LIBS) -o $@

# The spool target hears the spool's messages itself (fuzz_spool.c checks that each damaged
# segment is named in one) instead of printing thousands of them.
$(OUT)/fuzz_spool: $(OUT)/obj/fuzz_spool.o $(OUT)/libop25b_fuzz.a
	@echo "fuzz: LD $(@F)"
	@$(FUZZ_CC) $(SANITIZE) -fsanitize=fuzzer -Wl,--wrap=log_message $^ $(LIBS) -o $@

# The objects of src/'s folders (obj/decode/...) too: without their dependencies, a changed
# header such as a struct's layout left stale objects that disagree with the rest.
-include $(wildcard $(OUT)/obj/*.d $(OUT)/obj/*/*.d)
