# bench/bench.mk: the benchmarks of issue 5, included by the top-level
# Makefile.  Uses B, CC, ALL_CFLAGS, RT_LIBS, $(B)/nnc and both libnnrt.
#
#   make bench          build with --cpu=native and run everything below,
#                       printing ratios (bench/run.sh; bench/README.md)
#   make gemm-check     the randomized check of the generated matrix
#                       products, for the default target and --cpu=native,
#                       f32 and f64 (bench/gemm_check.sh)
#
# OpenBLAS (cblas.h, -lopenblas) and PyTorch are baselines only: without
# them their comparisons are skipped with a note.

BENCH_OUT     := $(B)/bench
BENCH_NNC     := --cpu=native -O2
BENCH_BATCHES := 1 32 256
BENCH_SIZES   := 64 128 256 512 1024
BENCH_CFLAGS   = $(ALL_CFLAGS) -Iruntime
BENCH_PYTHON  ?=
# Is OpenBLAS there?  Asked only when benchmarking.
BENCH_HASH    := \#
ifneq ($(filter bench-run,$(MAKECMDGOALS)),)
BENCH_BLAS    := $(shell printf '$(BENCH_HASH)include <cblas.h>\nint main(void){return 0;}\n' | \
                   $(CC) -x c - -lopenblas -o /dev/null 2>/dev/null && echo -lopenblas)
endif

BENCH_MODELS := $(BENCH_BATCHES:%=$(BENCH_OUT)/mlp_b%.so)
ifneq ($(BENCH_BLAS),)
BENCH_BINS := $(BENCH_BATCHES:%=$(BENCH_OUT)/step_bench_b%) $(BENCH_SIZES:%=$(BENCH_OUT)/gemm_bench_n%)
endif

# The example network at each batch, and one square product at each size.
$(BENCH_OUT)/mlp_b%.o: samples/mlp.nn $(B)/nnc
	@mkdir -p $(@D)
	$(B)/nnc $(BENCH_NNC) -D batch=$* $< -o $@ -H $(BENCH_OUT)/mlp_b$*.h
$(BENCH_OUT)/gemm_n%.o: bench/gemm.nn $(B)/nnc
	@mkdir -p $(@D)
	$(B)/nnc $(BENCH_NNC) -D n=$* $< -o $@ -H $(BENCH_OUT)/gemm_n$*.h

$(BENCH_OUT)/step_bench_b%: bench/step_bench.c $(BENCH_OUT)/mlp_b%.o $(B)/libnnrt.a
	$(CC) $(BENCH_CFLAGS) -o $@ $^ $(BENCH_BLAS) $(RT_LIBS)
$(BENCH_OUT)/gemm_bench_n%: bench/gemm_bench.c $(BENCH_OUT)/gemm_n%.o $(B)/libnnrt.a
	$(CC) $(BENCH_CFLAGS) -o $@ $^ $(BENCH_BLAS) $(RT_LIBS)
# For PyTorch's side, which calls the step through ctypes.
$(BENCH_OUT)/mlp_b%.so: $(BENCH_OUT)/mlp_b%.o $(B)/libnnrt.so
	$(CC) -shared -o $@ $< -L$(B) -lnnrt -Wl,-rpath,$(abspath $(B))

# samples/mlp.nn's batch is a runtime dim (max 256); its const twins are
# built from it with sed, at each of the sizes dim_bench calls it with.
$(BENCH_OUT)/mlp_const.nn: samples/mlp.nn
	@mkdir -p $(@D)
	sed 's/^dim batch <= [0-9]*/const batch = 256/' $< > $@
$(BENCH_OUT)/mlp_dyn.o: samples/mlp.nn $(B)/nnc
	@mkdir -p $(@D)
	$(B)/nnc $(BENCH_NNC) --prefix=dyn $< -o $@ -H $(BENCH_OUT)/mlp_dyn.h
$(BENCH_OUT)/mlp_fix%.o: $(BENCH_OUT)/mlp_const.nn $(B)/nnc
	$(B)/nnc $(BENCH_NNC) --prefix=fix$* -D batch=$* $< -o $@ -H $(BENCH_OUT)/mlp_fix$*.h
$(BENCH_OUT)/dim_bench: bench/dim_bench.c bench/sides.c $(BENCH_OUT)/mlp_dyn.o $(BENCH_OUT)/mlp_fix256.o \
                        $(BENCH_OUT)/mlp_fix32.o $(BENCH_OUT)/mlp_fix1.o $(B)/libnnrt.a
	$(CC) $(BENCH_CFLAGS) -o $@ $^ $(RT_LIBS) -lm

# The same model trained by Adam instead of SGD.
$(BENCH_OUT)/mlp_adam.nn: samples/mlp.nn
	@mkdir -p $(@D)
	sed 's/^optimizer sgd(.*/optimizer adam(lr = 1e-3)/' $< > $@
$(BENCH_OUT)/mlp_adam.o: $(BENCH_OUT)/mlp_adam.nn $(B)/nnc
	$(B)/nnc $(BENCH_NNC) --prefix=adam $< -o $@ -H $(BENCH_OUT)/mlp_adam.h
$(BENCH_OUT)/optim_bench: bench/pair_bench.c bench/sides.c $(BENCH_OUT)/mlp_dyn.o $(BENCH_OUT)/mlp_adam.o \
                          $(B)/libnnrt.a
	$(CC) $(BENCH_CFLAGS) -DFIRST=adam_model -DFIRST_NAME='"adam"' -DSECOND=dyn_model -DSECOND_NAME='"sgd"' \
	  -o $@ $^ $(RT_LIBS) -lm

# The same model built without --cpu (portable; products for three x86-64
# levels) against --cpu=native.
$(BENCH_OUT)/mlp_dflt.o: samples/mlp.nn $(B)/nnc
	@mkdir -p $(@D)
	$(B)/nnc -O2 --prefix=dflt $< -o $@ -H $(BENCH_OUT)/mlp_dflt.h
$(BENCH_OUT)/isa_bench: bench/pair_bench.c bench/sides.c $(BENCH_OUT)/mlp_dflt.o $(BENCH_OUT)/mlp_dyn.o \
                        $(B)/libnnrt.a
	$(CC) $(BENCH_CFLAGS) -DFIRST=dflt_model -DFIRST_NAME='"default"' -DSECOND=dyn_model \
	  -DSECOND_NAME='"native"' -o $@ $^ $(RT_LIBS) -lm

# First the packages (OpenBLAS and PyTorch, the baselines), then the run.
bench:
	@tools/deps.sh bench
	@$(MAKE) --no-print-directory bench-run
# The textbook's LeNet-5, for PyTorch's side (bench/lenet_torch.py).
$(BENCH_OUT)/lenet.o: bench/lenet.nn $(B)/nnc
	@mkdir -p $(@D)
	$(B)/nnc $(BENCH_NNC) $< -o $@ -H $(BENCH_OUT)/lenet.h
$(BENCH_OUT)/lenet.so: $(BENCH_OUT)/lenet.o $(B)/libnnrt.so
	$(CC) -shared -o $@ $< -L$(B) -lnnrt -Wl,-rpath,$(abspath $(B))

# The demo network with room for a global batch of 512 on one rank, and
# LeNet, for the data-parallel benchmark (bench/mpi_bench.c).
$(BENCH_OUT)/mpi_fashion.o: samples/fashion_mnist.nn $(B)/nnc
	@mkdir -p $(@D)
	$(B)/nnc $(BENCH_NNC) --prefix=bench -D batch=512 $< -o $@ -H $(BENCH_OUT)/mpi_fashion.h
$(BENCH_OUT)/mpi_lenet.o: bench/lenet.nn $(B)/nnc
	@mkdir -p $(@D)
	$(B)/nnc $(BENCH_NNC) --prefix=bench $< -o $@ -H $(BENCH_OUT)/mpi_lenet.h
$(BENCH_OUT)/mpi_bench_%: bench/mpi_bench.c $(BENCH_OUT)/mpi_%.o $(B)/libnnrt_mpi.a $(B)/libnnrt.a
	$(CC) $(BENCH_CFLAGS) $(MPI_CFLAGS) -Iruntime/mpi -o $@ $^ $(MPI_LIBS) $(RT_LIBS)

bench-run: all $(BENCH_BINS) $(BENCH_MODELS) $(BENCH_OUT)/dim_bench $(BENCH_OUT)/optim_bench $(BENCH_OUT)/isa_bench $(BENCH_OUT)/thread_bench $(BENCH_OUT)/products_bench $(BENCH_OUT)/lenet.so \
           $(BENCH_OUT)/mpi_bench_fashion $(BENCH_OUT)/mpi_bench_lenet
	@BENCH_BLAS="$(BENCH_BLAS)" BENCH_PYTHON="$(BENCH_PYTHON)" BENCH_NNC="$(BENCH_NNC)" \
	  bench/run.sh $(B) "$(BENCH_BATCHES)" "$(BENCH_SIZES)"

GEMM_CHECK_RUN := gemm-check-default gemm-check-default-f64 gemm-check-native gemm-check-native-f64 \
                  gemm-check-dim gemm-check-dim-native gemm-check-level1 gemm-check-level3
gemm-check-default: all
	@$(SAN_ENV) bench/gemm_check.sh $(B)/nnc $(B)/libnnrt.a $(BENCH_OUT)/check/default
gemm-check-default-f64: all
	@$(SAN_ENV) bench/gemm_check.sh $(B)/nnc $(B)/libnnrt.a $(BENCH_OUT)/check/default-f64 --dtype=f64
gemm-check-native: all
	@$(SAN_ENV) bench/gemm_check.sh $(B)/nnc $(B)/libnnrt.a $(BENCH_OUT)/check/native --cpu=native
gemm-check-native-f64: all
	@$(SAN_ENV) bench/gemm_check.sh $(B)/nnc $(B)/libnnrt.a $(BENCH_OUT)/check/native-f64 --cpu=native --dtype=f64
# Without --cpu an x86-64 object holds its products for three levels and
# runs the highest the CPU has (nnrt_cpu_level); these run the lower two.
gemm-check-level1: all
	@NNRT_CPU_LEVEL=1 $(SAN_ENV) bench/gemm_check.sh $(B)/nnc $(B)/libnnrt.a $(BENCH_OUT)/check/level1
gemm-check-level3: all
	@NNRT_CPU_LEVEL=3 $(SAN_ENV) bench/gemm_check.sh $(B)/nnc $(B)/libnnrt.a $(BENCH_OUT)/check/level3
# m a runtime dim, at the row counts where the product changes form.
gemm-check-dim: all
	@$(SAN_ENV) bench/gemm_check.sh --dim $(B)/nnc $(B)/libnnrt.a $(BENCH_OUT)/check/dim
gemm-check-dim-native: all
	@$(SAN_ENV) bench/gemm_check.sh --dim $(B)/nnc $(B)/libnnrt.a $(BENCH_OUT)/check/dim-native --cpu=native
gemm-check: $(GEMM_CHECK_RUN)

.PHONY: bench bench-run gemm-check $(GEMM_CHECK_RUN)
.PRECIOUS: $(BENCH_OUT)/mlp_b%.o $(BENCH_OUT)/gemm_n%.o
CHECK_RUN += $(GEMM_CHECK_RUN)

# Thread scaling (bench/thread_bench.c): the example network at a runtime
# batch and one 1024 x 1024 product; its FMA loop is built for this machine,
# with a * b + c contracted to an FMA (ISO C mode turns that off).
$(BENCH_OUT)/gemm_1024.o: bench/gemm.nn $(B)/nnc
	@mkdir -p $(@D)
	$(B)/nnc $(BENCH_NNC) -D n=1024 $< -o $@ -H $(BENCH_OUT)/gemm_1024.h
# The products of samples/mlp.nn's train step, each alone (bench/product.nn,
# bench/products_bench.c) at 256 and 32 rows: PROD_<name>_<rows> is its
# form (A @ B, A @ B.T, A.T @ B), then m, k and n, from the example's
# d = 784, h = 256 and q = 10.
PROD_fwd_256  := nt 256 784 256
PROD_out_256  := nt 256 256 10
PROD_dhid_256 := nn 256 10 256
PROD_dw2_256  := tn 10 256 256
PROD_dw1_256  := tn 256 256 784
PROD_fwd_32   := nt 32 784 256
PROD_out_32   := nt 32 256 10
PROD_dhid_32  := nn 32 10 256
PROD_dw2_32   := tn 10 32 256
PROD_dw1_32   := tn 256 32 784
PROD_OBJS     := $(foreach p,fwd out dhid dw2 dw1,$(BENCH_OUT)/prod_$(p)_256.o $(BENCH_OUT)/prod_$(p)_32.o)
PROD_SED_nn   :=
PROD_SED_nt   := s/^input  B : f32\[k, n\]/input  B : f32[n, k]/; s/^C = A @ B$$/C = A @ B.T/
PROD_SED_tn   := s/^input  A : f32\[m, k\]/input  A : f32[k, m]/; s/^C = A @ B$$/C = A.T @ B/
$(BENCH_OUT)/prod_%.o: bench/product.nn $(B)/nnc
	@mkdir -p $(@D)
	sed '$(PROD_SED_$(word 1,$(PROD_$*)))' $< > $(@:.o=.nn)
	$(B)/nnc $(BENCH_NNC) --prefix=prod_$* -D m=$(word 2,$(PROD_$*)) -D k=$(word 3,$(PROD_$*)) \
	  -D n=$(word 4,$(PROD_$*)) $(@:.o=.nn) -o $@ -H $(@:.o=.h)
$(BENCH_OUT)/products_bench: bench/products_bench.c bench/peak.c bench/sides.c $(BENCH_OUT)/mlp_dyn.o $(PROD_OBJS) \
                             $(B)/libnnrt.a
	$(CC) $(BENCH_CFLAGS) -march=native -ffp-contract=fast -Wl,--wrap=nnrt_parallel -o $@ $^ $(RT_LIBS) -lm
# make check runs one round of it, no figure checked: it fails when a call
# fails or the step makes fewer than two parallel calls to time.
check-products-bench: $(BENCH_OUT)/products_bench
	$< 1 > $(BENCH_OUT)/products_bench.log
CHECK_RUN += check-products-bench
# Convolutions, forward and both gradients (bench/conv.nn), by shape.
CONV_lenet1 :=
CONV_lenet2 := -D c=6 -D hw=14 -D o=16 -D p=0
CONV_vgg    := -D n=32 -D c=64 -D o=64 -D k=3 -D p=1
CONV_r16    := -D c=16 -D o=16 -D hw=14 -D k=3 -D p=1
CONV_r32    := -D c=32 -D o=32 -D hw=7 -D k=3 -D p=1
CONV_wide   := -D n=64 -D c=6 -D o=32 -D hw=28 -D k=3 -D p=1
CONV_1x1    := -D n=64 -D c=64 -D o=64 -D hw=14 -D k=1 -D p=0
$(BENCH_OUT)/conv_%.o: bench/conv.nn $(B)/nnc
	@mkdir -p $(@D)
	$(B)/nnc $(BENCH_NNC) --prefix=conv_$* $(CONV_$*) $< -o $@

# Each shape built by NNC_BEFORE (an earlier revision's nnc) and by this
# one, compared in one process (bench/conv_pair.c); a new NNC_BEFORE needs
# `rm -r $(BENCH_OUT)/pair`.
CONV_PAIRS ?= lenet1 lenet2 vgg r16 r32 wide 1x1
$(BENCH_OUT)/pair/conv_pair_%: bench/conv_pair.c bench/sides.c bench/conv.nn $(B)/nnc $(B)/libnnrt.a
	@test -x "$(NNC_BEFORE)" || { echo "make conv-pair: set NNC_BEFORE to an earlier nnc"; exit 1; }
	@mkdir -p $(@D)
	$(NNC_BEFORE) $(BENCH_NNC) --prefix=A $(CONV_$*) bench/conv.nn -o $(@D)/A_$*.o -H $(@D)/A_$*.h
	$(B)/nnc $(BENCH_NNC) --prefix=B $(CONV_$*) bench/conv.nn -o $(@D)/B_$*.o -H $(@D)/B_$*.h
	$(CC) $(BENCH_CFLAGS) -o $@ bench/conv_pair.c bench/sides.c $(@D)/A_$*.o $(@D)/B_$*.o $(B)/libnnrt.a $(RT_LIBS) -lm
conv-pair: $(CONV_PAIRS:%=$(BENCH_OUT)/pair/conv_pair_%)
	@$(foreach s,$(CONV_PAIRS),echo "== $s: $(or $(CONV_$s),LeNet-5's first)" && $(BENCH_OUT)/pair/conv_pair_$s &&) true
.PHONY: conv-pair
# make check builds it against this nnc itself at one shape, so that the
# tool keeps building and its two sides must agree.
check-conv-pair: $(B)/nnc $(B)/libnnrt.a
	@mkdir -p $(BENCH_OUT)
	@$(MAKE) --no-print-directory conv-pair NNC_BEFORE=$(B)/nnc CONV_PAIRS=r16 BENCH_OUT=$(BENCH_OUT)/self \
	  > $(BENCH_OUT)/conv_pair_self.log
CHECK_RUN += check-conv-pair
$(BENCH_OUT)/thread_bench: bench/thread_bench.c bench/peak.c bench/sides.c $(BENCH_OUT)/mlp_dyn.o $(BENCH_OUT)/gemm_1024.o \
                           $(BENCH_OUT)/lenet.o $(BENCH_OUT)/conv_lenet1.o $(BENCH_OUT)/conv_lenet2.o \
                           $(BENCH_OUT)/conv_vgg.o $(B)/libnnrt.a
	$(CC) $(BENCH_CFLAGS) -march=native -ffp-contract=fast -o $@ $^ $(RT_LIBS) -lm
