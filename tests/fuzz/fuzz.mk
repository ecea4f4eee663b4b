# Fuzzing the compiler with libFuzzer (clang-19, ASan, UBSan), in memory:
# tests/fuzz/fuzz_compile.c.  The fuzzer is its own sanitizer build, the
# same with or without SANITIZE=1.
#
#   make fuzz FUZZ_SECONDS=N   fuzz for N seconds (default 60); the corpus it
#                              grows stays in $(B)/fuzz/corpus, crashes land
#                              in $(B)/fuzz/ (crash-*, leak-*, timeout-*, oom-*)
#   run-fuzz-tests (make check) replays every file of tests/fuzz/regressions,
#                              then fuzzes FUZZ_RUNS inputs from seed 1
#
# Seeds, read only: tests/fuzz/corpus (a minimized corpus), the regressions,
# and every model of the project, copied into $(B)/fuzz/seeds since libFuzzer
# reads whole folders and ours hold other files too.
FUZZ_SECONDS ?= 60
FUZZ_RUNS    ?= 25000
FUZZ_CC      ?= clang-19
FUZZ_DIR     := $(B)/fuzz
FUZZ_SRC     := tests/fuzz/fuzz_compile.c $(filter-out compiler/main.c,$(CC_SRC)) grammar/parse.c \
                $(GRAMMAR_C) $(RT_SRC)
FUZZ_FLAGS   := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                -std=c11 -D_XOPEN_SOURCE=700 -Icompiler -Igrammar -I$(B)/grammar -Iruntime
FUZZ_MODELS  := $(wildcard tests/e2e/models/*.nn tests/errors/*.nn tests/dims/*.nn samples/*.nn samples/*/*.nn)
# A compile that takes 10 s is a hang: the work budget, a tenth of nnc's in
# fuzz_compile.c, stops the front end within about 1.5 s here, sanitizers
# included.
FUZZ_OPTS    := -dict=$(CURDIR)/tests/fuzz/nn.dict -timeout=10 -rss_limit_mb=4096 -max_len=8192 \
                -print_final_stats=1
FUZZ_SEEDS   := $(CURDIR)/$(FUZZ_DIR)/seeds $(CURDIR)/tests/fuzz/corpus $(CURDIR)/tests/fuzz/regressions

$(FUZZ_DIR)/fuzz_compile: $(FUZZ_SRC) $(wildcard compiler/*.h grammar/*.h runtime/*.h)
	@tools/deps.sh fuzz
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(LLVM_CFLAGS) $(FUZZ_SRC) -o $@ $(LLVM_LDFLAGS) -lz -lm

$(FUZZ_DIR)/seeds: $(FUZZ_MODELS)
	@rm -rf $@ && mkdir -p $@
	@for f in $(FUZZ_MODELS); do cp $$f $@/$$(echo $$f | tr / _); done

fuzz: $(FUZZ_DIR)/fuzz_compile $(FUZZ_DIR)/seeds
	@mkdir -p $(FUZZ_DIR)/corpus
	cd $(FUZZ_DIR) && ./fuzz_compile $(FUZZ_OPTS) -max_total_time=$(FUZZ_SECONDS) corpus $(FUZZ_SEEDS)

# The short run grows a corpus of its own, emptied each time, so that the
# same seed fuzzes the same inputs.
CHECK_RUN += run-fuzz-tests
run-fuzz-tests: $(FUZZ_DIR)/fuzz_compile $(FUZZ_DIR)/seeds
	@cd $(FUZZ_DIR) && ./fuzz_compile $(FUZZ_OPTS) $(CURDIR)/tests/fuzz/regressions/* > regressions.log 2>&1 \
	  || { cat regressions.log; echo "fuzz: a regression fails again ($(FUZZ_DIR)/regressions.log)"; exit 1; }
	@rm -rf $(FUZZ_DIR)/short && mkdir -p $(FUZZ_DIR)/short
	@cd $(FUZZ_DIR) && ./fuzz_compile $(FUZZ_OPTS) -seed=1 -runs=$(FUZZ_RUNS) short $(FUZZ_SEEDS) > short.log 2>&1 \
	  || { tail -60 short.log; echo "fuzz: the short run found a crash, leak or hang ($(FUZZ_DIR)/short.log)"; exit 1; }
	@echo "fuzz: $(words $(wildcard tests/fuzz/regressions/*)) regressions and $(FUZZ_RUNS) generated inputs passed, 0 failed"

.PHONY: fuzz
