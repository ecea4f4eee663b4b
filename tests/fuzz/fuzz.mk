# make fuzz FUZZ_SECONDS=N: fuzz the compiler with libFuzzer (clang-19,
# ASan, UBSan), from a seed corpus of the project's own models.  The
# corpus it grows stays in build/fuzz/corpus; crashes land in build/fuzz/.
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang-19
FUZZ_DIR     := $(B)/fuzz
FUZZ_SRC     := tests/fuzz/fuzz_compile.c $(filter-out compiler/main.c,$(CC_SRC)) grammar/parse.c \
                $(GRAMMAR_C) $(RT_SRC)
FUZZ_FLAGS   := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                -std=c11 -D_XOPEN_SOURCE=700 -Icompiler -Igrammar -I$(B)/grammar -Iruntime

$(FUZZ_DIR)/fuzz_compile: $(FUZZ_SRC) $(wildcard compiler/*.h grammar/*.h runtime/*.h)
	@tools/deps.sh fuzz
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(LLVM_CFLAGS) $(FUZZ_SRC) -o $@ $(LLVM_LDFLAGS) -lz -lm

fuzz: $(FUZZ_DIR)/fuzz_compile
	@mkdir -p $(FUZZ_DIR)/corpus
	cd $(FUZZ_DIR) && ./fuzz_compile -max_total_time=$(FUZZ_SECONDS) -timeout=30 -rss_limit_mb=4096 \
	  -max_len=8192 -print_final_stats=1 corpus $(CURDIR)/tests/e2e/models $(CURDIR)/tests/errors \
	  $(CURDIR)/tests/fuzz/regressions

.PHONY: fuzz
