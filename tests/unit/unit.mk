# Unit tests of the compiler's passes: linked against every compiler object
# but main.o, and run by `make check`.
UNIT_BIN := $(B)/tests/unit/test_compiler
CHECK_BINS += $(UNIT_BIN)
CHECK_RUN  += run-unit-tests

$(UNIT_BIN): tests/unit/test_compiler.c $(CC_LIBOBJ) $(B)/libnnrt.a
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -Icompiler -o $@ $< $(CC_LIBOBJ) $(B)/libnnrt.a $(LLVM_LDFLAGS) $(CHECK_LIBS) $(RT_LIBS)

run-unit-tests: $(UNIT_BIN)
	$(UNIT_BIN)
