# tests/e2e/e2e.mk: the end-to-end tests, included by tests/tests.mk.
#
# Each model tests/e2e/models/X.nn is compiled by nnc twice, with the options
# of X.defs (the -D values its fixture was computed with):
#   $(B)/tests/e2e/X.o, X.h              nnc X.defs X.nn
#   $(B)/tests/e2e/f64/X.o, X.h          nnc X.defs --dtype=f64 X.nn
# and linked into three Check programs, each run by a target of CHECK_RUN:
#   e2e_X          harness.c + X.o        e2e-X: compares with fixtures/X.fix
#                                         (PyTorch, float64) at the f32 tolerance
#   f64/e2e_X      harness.c + f64/X.o    e2e-f64-X: the same fixture at 1e-9
#   gradcheck_X    gradcheck_main.c + f64/X.o
#                                         gradcheck-X: nnrt_gradcheck (central
#                                         differences) as models/X.gc says
# The fixtures, .defs and .gc files are written by gen_fixtures.py, run by
# hand (it needs torch); see docs/testing.md.
#
#   make e2e                      build and run them all
#   make e2e-mlp                  one of them

# Every model: the pipeline's first group, then the wider language.
E2E_MODELS := mlp mlp_momentum broadcasting activations reductions_all \
              matmul_transpose cross_entropy \
              elementwise reductions_axis softmax reshape_transpose \
              functions_loops precision_f64 extreme_logits metrics \
              unrolled_product optim_adam optim_adamw_f64 optim_sgd_nesterov \
              optim_sgd_dampening batch_norm_2d batch_norm_4d breadth_unary breadth_compare \
              breadth_reduce conv2d conv2d_blocks conv2d_columns conv2d_same conv2d_weights pooling flip indexing edges cross_params \
              centered_sums

E2E_ALL  = $(E2E_MODELS)
E2E_SRC := tests/e2e
E2E_OUT ?= $(B)/tests/e2e
NNC_OPT ?=
# the -D options of a model: its .defs without comments
E2E_DEFS = $$(sed -e 's/\#.*//' $(E2E_SRC)/models/$*.defs)
E2E_LINK = $(CC) $(TEST_CFLAGS) -o $@ $^ $(CHECK_LIBS) $(RT_LIBS)

E2E_BINS = $(E2E_ALL:%=$(E2E_OUT)/e2e_%) $(E2E_ALL:%=$(E2E_OUT)/f64/e2e_%) \
           $(E2E_ALL:%=$(E2E_OUT)/gradcheck_%)
E2E_RUN  = $(E2E_ALL:%=e2e-%) $(E2E_ALL:%=e2e-f64-%) $(E2E_ALL:%=gradcheck-%)

# ---- compiling the models (the header is written with the object) ----

$(E2E_ALL:%=$(E2E_OUT)/%.o): $(E2E_OUT)/%.o: $(E2E_SRC)/models/%.nn \
    $(E2E_SRC)/models/%.defs $(B)/nnc
	@mkdir -p $(@D)
	$(B)/nnc $(NNC_OPT) $(E2E_DEFS) $< -o $@ -H $(E2E_OUT)/$*.h

$(E2E_ALL:%=$(E2E_OUT)/f64/%.o): $(E2E_OUT)/f64/%.o: $(E2E_SRC)/models/%.nn \
    $(E2E_SRC)/models/%.defs $(B)/nnc
	@mkdir -p $(@D)
	$(B)/nnc $(NNC_OPT) $(E2E_DEFS) --dtype=f64 $< -o $@ -H $(E2E_OUT)/f64/$*.h

# ---- the test programs ----

# harness.c is generic: the model comes in by -DNNC_MODEL, and its header
# (-include) lets the harness check the header against the descriptor.
$(E2E_ALL:%=$(E2E_OUT)/harness_%.o): $(E2E_OUT)/harness_%.o: $(E2E_SRC)/harness.c \
    $(E2E_OUT)/%.o runtime/nnrt.h
	$(CC) $(TEST_CFLAGS) -DNNC_MODEL=$*_model -DNNC_PREFIX=$* -include $(E2E_OUT)/$*.h \
	  -c $< -o $@
$(E2E_ALL:%=$(E2E_OUT)/f64/harness_%.o): $(E2E_OUT)/f64/harness_%.o: $(E2E_SRC)/harness.c \
    $(E2E_OUT)/f64/%.o runtime/nnrt.h
	$(CC) $(TEST_CFLAGS) -DNNC_MODEL=$*_model -DNNC_PREFIX=$* -include $(E2E_OUT)/f64/$*.h \
	  -c $< -o $@
$(E2E_ALL:%=$(E2E_OUT)/gradcheck_%.o): $(E2E_OUT)/gradcheck_%.o: $(E2E_SRC)/gradcheck_main.c \
    runtime/nnrt.h
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -DNNC_MODEL=$*_model -c $< -o $@

$(E2E_ALL:%=$(E2E_OUT)/e2e_%): $(E2E_OUT)/e2e_%: $(E2E_OUT)/harness_%.o $(E2E_OUT)/%.o \
    $(B)/libnnrt.a
	$(E2E_LINK)
$(E2E_ALL:%=$(E2E_OUT)/f64/e2e_%): $(E2E_OUT)/f64/e2e_%: $(E2E_OUT)/f64/harness_%.o \
    $(E2E_OUT)/f64/%.o $(B)/libnnrt.a
	$(E2E_LINK)
$(E2E_ALL:%=$(E2E_OUT)/gradcheck_%): $(E2E_OUT)/gradcheck_%: $(E2E_OUT)/gradcheck_%.o \
    $(E2E_OUT)/f64/%.o $(B)/libnnrt.a
	$(E2E_LINK)

# ---- running them ----

$(E2E_ALL:%=e2e-%): e2e-%: $(E2E_OUT)/e2e_%
	$< $(E2E_SRC)/fixtures/$*.fix
$(E2E_ALL:%=e2e-f64-%): e2e-f64-%: $(E2E_OUT)/f64/e2e_%
	$< $(E2E_SRC)/fixtures/$*.fix --dtype=f64
$(E2E_ALL:%=gradcheck-%): gradcheck-%: $(E2E_OUT)/gradcheck_%
	$< $(E2E_SRC)/models/$*.gc

e2e: all $(E2E_BINS)
	@$(MAKE) --no-print-directory -k $(E2E_RUN)

CHECK_BINS += $(E2E_BINS)
CHECK_RUN  += $(E2E_RUN) e2e-opt-levels e2e-cpu-levels

# Optimization must not change results: the f32 suites again with the
# models compiled at -O0, -O1 and -O3 (-O2, the default, is the suites').
e2e-opt-levels: all
	@for o in 0 1 3; do \
	  $(MAKE) --no-print-directory -s -k NNC_OPT=-O$$o E2E_OUT=$(B)/tests/e2e-O$$o \
	    $(E2E_ALL:%=$(B)/tests/e2e-O$$o/e2e_%) > $(B)/tests/e2e-O$$o.log 2>&1 \
	    || { cat $(B)/tests/e2e-O$$o.log; exit 1; }; \
	  for m in $(E2E_ALL); do \
	    $(B)/tests/e2e-O$$o/e2e_$$m $(E2E_SRC)/fixtures/$$m.fix > $(B)/tests/e2e-O$$o-$$m.log 2>&1 \
	      || { cat $(B)/tests/e2e-O$$o-$$m.log; echo "e2e at -O$$o: $$m failed"; exit 1; }; \
	  done; \
	  echo "e2e at -O$$o: $(words $(E2E_ALL)) models passed"; \
	done

# The suites' objects (no --cpu) hold their products for three x86-64
# levels and run the highest this CPU has: every f32 and f64 suite again at
# the lower two (NNRT_CPU_LEVEL caps the level; runtime/cpu.c).
e2e-cpu-levels: $(E2E_ALL:%=$(E2E_OUT)/e2e_%) $(E2E_ALL:%=$(E2E_OUT)/f64/e2e_%)
	@for l in 1 3; do \
	  for m in $(E2E_ALL); do \
	    for t in "e2e_$$m" "f64/e2e_$$m --dtype=f64"; do \
	      set -- $$t; \
	      NNRT_CPU_LEVEL=$$l $(E2E_OUT)/$$1 $(E2E_SRC)/fixtures/$$m.fix $$2 > $(B)/tests/e2e-level.log 2>&1 \
	        || { cat $(B)/tests/e2e-level.log; echo "e2e at NNRT_CPU_LEVEL=$$l: $$1 failed"; exit 1; }; \
	    done; \
	  done; \
	  echo "e2e at NNRT_CPU_LEVEL=$$l: $(words $(E2E_ALL)) models passed, f32 and f64"; \
	done

# The convolution models compiled for AVX-512 alone (--cpu=x86-64-v4),
# whose plans take direct convolutions with K up to 160 where a build for
# any x86-64 keeps them to 32 (plan.c, conv_direct), against the same
# fixtures; skipped on a CPU without AVX-512.
E2E_WIDE := conv2d_same conv2d_blocks conv2d_weights conv2d_columns
e2e-wide-conv: all
	@if ! grep -qw avx512f /proc/cpuinfo; then echo "e2e-wide-conv: skipped, this CPU has no AVX-512"; exit 0; fi; \
	$(MAKE) --no-print-directory -s -k NNC_OPT=--cpu=x86-64-v4 E2E_OUT=$(B)/tests/e2e-v4 \
	  $(E2E_WIDE:%=$(B)/tests/e2e-v4/e2e_%) $(E2E_WIDE:%=$(B)/tests/e2e-v4/f64/e2e_%) > $(B)/tests/e2e-v4.log 2>&1 \
	  || { cat $(B)/tests/e2e-v4.log; exit 1; }; \
	for m in $(E2E_WIDE); do \
	  for t in "e2e_$$m" "f64/e2e_$$m --dtype=f64"; do \
	    set -- $$t; \
	    $(B)/tests/e2e-v4/$$1 $(E2E_SRC)/fixtures/$$m.fix $$2 > $(B)/tests/e2e-v4-run.log 2>&1 \
	      || { cat $(B)/tests/e2e-v4-run.log; echo "e2e at --cpu=x86-64-v4: $$1 failed"; exit 1; }; \
	  done; \
	done; \
	echo "e2e at --cpu=x86-64-v4: $(words $(E2E_WIDE)) convolution models passed, f32 and f64"
CHECK_RUN += e2e-wide-conv

.PHONY: e2e e2e-opt-levels e2e-cpu-levels e2e-wide-conv $(E2E_RUN)

# A model mixing f32 and f64, against the same sums in C (the f64 consumer
# of an f32 product must not be computed in the product's place).
MIXED_OUT = $(B)/tests/e2e/mixed
$(MIXED_OUT)/mixed_dtype.o: tests/e2e/mixed/mixed_dtype.nn $(B)/nnc
	@mkdir -p $(@D)
	$(B)/nnc $< -o $@ -H $(MIXED_OUT)/mixed_dtype.h
$(MIXED_OUT)/mixed_dtype: tests/e2e/mixed/mixed_dtype.c $(MIXED_OUT)/mixed_dtype.o $(B)/libnnrt.a
	$(CC) $(TEST_CFLAGS) -o $@ $^ $(RT_LIBS)
CHECK_BINS += $(MIXED_OUT)/mixed_dtype
CHECK_RUN  += e2e-mixed-dtype
e2e-mixed-dtype: $(MIXED_OUT)/mixed_dtype
	$<
.PHONY: e2e-mixed-dtype

# Special values (contract, 5.3 and 5.8 NaN): argmax, max and logsumexp on
# rows with NaN and infinities, forward and gradient, against PyTorch's
# answers stated in special_values.c; the model in f32 and --dtype=f64.
SPECIAL_OUT = $(B)/tests/e2e/special
$(SPECIAL_OUT)/special_values.o: tests/e2e/special/special_values.nn $(B)/nnc
	@mkdir -p $(@D)
	$(B)/nnc $< -o $@ -H $(SPECIAL_OUT)/special_values.h
$(SPECIAL_OUT)/special_values_f64.o: tests/e2e/special/special_values.nn $(B)/nnc
	@mkdir -p $(@D)
	$(B)/nnc --dtype=f64 --prefix=special_values_f64 $< -o $@ -H $(SPECIAL_OUT)/special_values_f64.h
$(SPECIAL_OUT)/special_values: tests/e2e/special/special_values.c $(SPECIAL_OUT)/special_values.o $(B)/libnnrt.a
	$(CC) $(TEST_CFLAGS) -DMODEL=special_values_model -DREAL=float -o $@ $^ $(RT_LIBS)
$(SPECIAL_OUT)/special_values_f64: tests/e2e/special/special_values.c $(SPECIAL_OUT)/special_values_f64.o $(B)/libnnrt.a
	$(CC) $(TEST_CFLAGS) -DMODEL=special_values_f64_model -DREAL=double -o $@ $^ $(RT_LIBS)
# The inline f32 exp against libm's expf (exp_ulp.c).
$(SPECIAL_OUT)/exp_ulp.o: tests/e2e/special/exp_ulp.nn $(B)/nnc
	@mkdir -p $(@D)
	$(B)/nnc $< -o $@ -H $(SPECIAL_OUT)/exp_ulp.h
$(SPECIAL_OUT)/exp_ulp: tests/e2e/special/exp_ulp.c $(SPECIAL_OUT)/exp_ulp.o $(B)/libnnrt.a
	$(CC) $(TEST_CFLAGS) -I$(SPECIAL_OUT) -o $@ $^ $(RT_LIBS)
CHECK_BINS += $(SPECIAL_OUT)/special_values $(SPECIAL_OUT)/special_values_f64 $(SPECIAL_OUT)/exp_ulp
CHECK_RUN  += e2e-special-values
e2e-special-values: $(SPECIAL_OUT)/special_values $(SPECIAL_OUT)/special_values_f64 $(SPECIAL_OUT)/exp_ulp
	$(SPECIAL_OUT)/special_values
	$(SPECIAL_OUT)/special_values_f64
	$(SPECIAL_OUT)/exp_ulp
.PHONY: e2e-special-values

# Entry points that call their kernels from a table (codegen.c, kernel
# tables, beyond KERNELS_INLINE calls): an unrolled loop of 150 iterations
# against its recurrence and gradient in C; the test first checks that
# backward and train_step do use a table.
KTABLE_OUT = $(B)/tests/e2e/kernel_table
$(KTABLE_OUT)/kernel_table.o: tests/e2e/kernel_table/kernel_table.nn $(B)/nnc
	@mkdir -p $(@D)
	$(B)/nnc $< -o $@ -H $(KTABLE_OUT)/kernel_table.h
	$(B)/nnc --emit=llvm $< -o $(KTABLE_OUT)/kernel_table.ll
$(KTABLE_OUT)/kernel_table_f64.o: tests/e2e/kernel_table/kernel_table.nn $(B)/nnc
	@mkdir -p $(@D)
	$(B)/nnc --dtype=f64 --prefix=kernel_table_f64 $< -o $@ -H $(KTABLE_OUT)/kernel_table_f64.h
$(KTABLE_OUT)/kernel_table: tests/e2e/kernel_table/kernel_table.c $(KTABLE_OUT)/kernel_table.o $(B)/libnnrt.a
	$(CC) $(TEST_CFLAGS) -DMODEL=kernel_table_model -DREAL=float -DTOL=1e-4 -o $@ $^ $(RT_LIBS) -lm
$(KTABLE_OUT)/kernel_table_f64: tests/e2e/kernel_table/kernel_table.c $(KTABLE_OUT)/kernel_table_f64.o $(B)/libnnrt.a
	$(CC) $(TEST_CFLAGS) -DMODEL=kernel_table_f64_model -DREAL=double -DTOL=1e-9 -o $@ $^ $(RT_LIBS) -lm
CHECK_BINS += $(KTABLE_OUT)/kernel_table $(KTABLE_OUT)/kernel_table_f64
CHECK_RUN  += e2e-kernel-table
e2e-kernel-table: $(KTABLE_OUT)/kernel_table $(KTABLE_OUT)/kernel_table_f64
	@for e in backward train_step; do \
	  grep -Eq "@kernel_table_$$e(\.v[0-9])?\.calls" $(KTABLE_OUT)/kernel_table.ll || { echo "e2e-kernel-table: kernel_table_$$e calls no table"; exit 1; }; \
	done
	$(KTABLE_OUT)/kernel_table
	$(KTABLE_OUT)/kernel_table_f64
.PHONY: e2e-kernel-table

# Training mode (contract, 5.3 and 5.8): dropout's masks against the rule
# (nnrt_dropout_keeps) and their statistics, batch_norm over a runtime
# batch against its formulas in C, and an exact resume from a checkpoint;
# the models in f32 and --dtype=f64.
TRAINING_OUT = $(B)/tests/e2e/training
TRAINING_MODELS = dropout bn_dim resume
$(TRAINING_MODELS:%=$(TRAINING_OUT)/%.o): $(TRAINING_OUT)/%.o: tests/e2e/training/%.nn $(B)/nnc
	@mkdir -p $(@D)
	$(B)/nnc $< -o $@
$(TRAINING_MODELS:%=$(TRAINING_OUT)/%_f64.o): $(TRAINING_OUT)/%_f64.o: tests/e2e/training/%.nn $(B)/nnc
	@mkdir -p $(@D)
	$(B)/nnc --dtype=f64 --prefix=$*_f64 $< -o $@
$(TRAINING_OUT)/training: tests/e2e/training/training.c $(TRAINING_MODELS:%=$(TRAINING_OUT)/%.o) $(B)/libnnrt.a
	$(CC) $(TEST_CFLAGS) -DREAL=float -DDROPOUT=dropout_model -DBN=bn_dim_model -DRESUME=resume_model -o $@ $^ $(RT_LIBS)
$(TRAINING_OUT)/training_f64: tests/e2e/training/training.c $(TRAINING_MODELS:%=$(TRAINING_OUT)/%_f64.o) \
    $(B)/libnnrt.a
	$(CC) $(TEST_CFLAGS) -DREAL=double -DDROPOUT=dropout_f64_model -DBN=bn_dim_f64_model \
	  -DRESUME=resume_f64_model -o $@ $^ $(RT_LIBS)
CHECK_BINS += $(TRAINING_OUT)/training $(TRAINING_OUT)/training_f64
CHECK_RUN  += e2e-training
e2e-training: $(TRAINING_OUT)/training $(TRAINING_OUT)/training_f64
	$(TRAINING_OUT)/training
	$(TRAINING_OUT)/training_f64
.PHONY: e2e-training
