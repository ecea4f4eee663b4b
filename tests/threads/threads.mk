# tests/threads: the thread pool's contract on generated code (threads.c):
# bitwise the same results at 1, 2 and 3 threads and for two callers at
# once, and the default thread count, run without NNRT_NUM_THREADS and with
# it, and once more with the models' baseline x86-64 code (NNRT_CPU_LEVEL=1;
# they are compiled without --cpu); which loops of the example's step can
# be split at batch 1 (none) and 256; then the gradient check of rows.nn,
# whose im2col, col2im and elementwise kernels are split by rows.  Under SANITIZE=1 the same program runs with ASan and UBSan, and
# again built with ThreadSanitizer (tsan-threads).

THREADS_OUT := $(B)/tests/threads
THREADS_OBJ := $(THREADS_OUT)/mlp.o $(THREADS_OUT)/lenet_bn.o $(THREADS_OUT)/wide.o

$(THREADS_OUT)/mlp.o: samples/mlp.nn $(B)/nnc
	@mkdir -p $(@D)
	$(B)/nnc $< -o $@
$(THREADS_OUT)/lenet_bn.o: samples/book/lenet_bn.nn $(B)/nnc
	@mkdir -p $(@D)
	$(B)/nnc $< -o $@
$(THREADS_OUT)/wide.o: tests/threads/wide.nn $(B)/nnc
	@mkdir -p $(@D)
	$(B)/nnc $< -o $@
# threads.c counts the calls of nnrt_parallel: the link wraps it.
$(THREADS_OUT)/threads: tests/threads/threads.c $(THREADS_OBJ) $(B)/libnnrt.a
	$(CC) $(TEST_CFLAGS) -Wl,--wrap=nnrt_parallel -o $@ $^ $(RT_LIBS)

CHECK_BINS += $(THREADS_OUT)/threads
CHECK_RUN  += run-thread-tests
run-thread-tests: $(THREADS_OUT)/threads
	$(THREADS_OUT)/threads
	NNRT_NUM_THREADS=3 $(THREADS_OUT)/threads 3
	NNRT_CPU_LEVEL=1 $(THREADS_OUT)/threads
	$(B)/nnc --gradcheck tests/threads/rows.nn

.PHONY: run-thread-tests

# ThreadSanitizer: the runtime's sources and threads.c built with
# -fsanitize=thread (ASan cannot be combined with it), run at 2 threads;
# and the pool's own test (tests/runtime/test_threads.c), in one process.
TSAN_CFLAGS := -std=c11 -D_XOPEN_SOURCE=700 -O1 -g -fsanitize=thread -Iruntime
$(THREADS_OUT)/threads_tsan: tests/threads/threads.c $(THREADS_OBJ) $(RT_SRC)
	$(CC) $(TSAN_CFLAGS) -Wl,--wrap=nnrt_parallel -o $@ $< $(RT_SRC) $(THREADS_OBJ) $(RT_LIBS)
$(THREADS_OUT)/pool_tsan: tests/runtime/test_threads.c $(RT_SRC)
	@mkdir -p $(@D)
	$(CC) $(TSAN_CFLAGS) -Itests $(shell pkg-config --cflags check 2>/dev/null) -o $@ $^ $(CHECK_LIBS) $(RT_LIBS)
tsan-threads: $(THREADS_OUT)/threads_tsan $(THREADS_OUT)/pool_tsan
	TSAN_OPTIONS=halt_on_error=1 $(THREADS_OUT)/threads_tsan
	CK_FORK=no TSAN_OPTIONS=halt_on_error=1 $(THREADS_OUT)/pool_tsan
.PHONY: tsan-threads
ifeq ($(SANITIZE),1)
CHECK_RUN += tsan-threads
endif
