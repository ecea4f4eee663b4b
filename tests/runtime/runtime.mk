# Runtime tests: one Check program per runtime file (tests/runtime/test_*.c),
# linked against the static library, so they need neither the compiler nor
# LLVM.  `make run-runtime-tests` builds and runs them alone.

RT_TEST_SRC := $(wildcard tests/runtime/test_*.c)
RT_TEST_BIN := $(RT_TEST_SRC:tests/runtime/%.c=$(B)/tests/runtime/%)
RT_TEST_HDR := $(wildcard tests/runtime/*.h) tests/run_suite.h

CHECK_BINS += $(RT_TEST_BIN)
CHECK_RUN  += run-runtime-tests

$(B)/tests/runtime/%: tests/runtime/%.c $(RT_TEST_HDR) $(B)/libnnrt.a
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -o $@ $< $(B)/libnnrt.a $(CHECK_LIBS) -lz -lm

run-runtime-tests: $(RT_TEST_BIN)
	@for t in $(RT_TEST_BIN); do $$t || exit 1; done
