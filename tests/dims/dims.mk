# tests/dims/dims.mk: the acceptance test of runtime dims (`dim NAME <= MAX`,
# contract 5.1), included by tests/tests.mk.
#
# Each model tests/dims/X.nn declares one or more dims.  For each case C (the
# values of its dims in declaration order, joined by _: 33, or 17_5) it is
# compiled twice and linked with the generic driver.c:
#   $(B)/tests/dims/X/dyn.o, dyn.h        nnc --prefix=dyn X.nn
#   $(B)/tests/dims/X/fix_C.nn            X.nn with each `dim NAME <= MAX` line
#                                         replaced by `const NAME = value`
#   $(B)/tests/dims/X/fix_C.o, fix_C.h    nnc --prefix=fix fix_C.nn
#   $(B)/tests/dims/X/dims_C              driver.o + dyn.o + fix_C.o + libnnrt
# and `make dims` runs every dims_C, which checks that the dyn build called
# with the dims of C computes what fix_C does (driver.c says how), and prints
# `dims: N passed, M failed`, one count per (model, case).  The log of each
# run is $(B)/tests/dims/X/dims_C.log.
#
# The cases: each dim at its MAX, at an odd value in the middle, and at 1
# (for a model with two dims, also each at 1 with the other at its MAX).
# WARNING: the values repeat the MAX of the model's `dim` lines; change both.
#
# DIMS_NNC adds nnc options to both builds, DIMS_OUT moves them:
#   make dims DIMS_NNC=--cpu=native DIMS_OUT=build/tests/dims-native

DIMS_MODELS := mlp matmul elementwise reductions softmax reshape loops twodims precision breadth conv \
               indexing conv_rows
DIMS_CASES_mlp       := 256 129 1
DIMS_CASES_twodims   := 32_9 17_5 1_1 1_9 32_1
DIMS_CASES_precision := 40 21 1
DIMS_CASES_conv      := 19 10 1
DIMS_CASES_conv_rows := 60 31 1
DIMS_CASES_DEFAULT   := 67 33 1
dims_cases = $(or $(DIMS_CASES_$1),$(DIMS_CASES_DEFAULT))

DIMS_SRC := tests/dims
DIMS_OUT ?= $(B)/tests/dims
DIMS_NNC ?=
DIMS_RUNS := $(foreach m,$(DIMS_MODELS),$(foreach c,$(call dims_cases,$m),$m/$c))
DIMS_BINS := $(foreach r,$(DIMS_RUNS),$(DIMS_OUT)/$(dir $r)dims_$(notdir $r))
# the files between the sources and the programs, which make must keep
DIMS_KEEP := $(foreach r,$(DIMS_RUNS),$(addprefix $(DIMS_OUT)/$(dir $r)fix_$(notdir $r),.nn .o)) \
             $(DIMS_MODELS:%=$(DIMS_OUT)/%/dyn.o)

# The fixed copy for case $*: the k-th dim line becomes `const NAME = v_k`
# (same line numbers, so nnc's messages point into X.nn); fails unless there
# are as many dim lines as values.
DIMS_FIX = awk -v vals="$(subst _, ,$*)" \
  'BEGIN { n = split(vals, v, " ") } \
   /^[ \t]*dim[ \t]+[A-Za-z_][A-Za-z0-9_]*[ \t]*<=/ { \
     name = $$0; sub(/^[ \t]*dim[ \t]+/, "", name); sub(/[ \t]*<=.*/, "", name); \
     print "const " name " = " v[++k]; next } \
   { print } \
   END { if (k != n) { print FILENAME ": " k " dims, " n " values" > "/dev/stderr"; exit 1 } }'

$(DIMS_OUT)/%/dyn.o: $(DIMS_SRC)/%.nn $(B)/nnc
	@mkdir -p $(@D)
	$(B)/nnc $(DIMS_NNC) --prefix=dyn $< -o $@ -H $(@D)/dyn.h

$(DIMS_OUT)/driver.o: $(DIMS_SRC)/driver.c runtime/nnrt.h
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -c $< -o $@

define DIMS_MODEL_RULES
$(DIMS_OUT)/$1/fix_%.nn: $(DIMS_SRC)/$1.nn $(DIMS_SRC)/dims.mk
	@mkdir -p $$(@D)
	$$(DIMS_FIX) $$< > $$@.tmp && mv $$@.tmp $$@
$(DIMS_OUT)/$1/fix_%.o: $(DIMS_OUT)/$1/fix_%.nn $(B)/nnc
	$(B)/nnc $(DIMS_NNC) --prefix=fix $$< -o $$@ -H $$(@D)/fix_$$*.h
$(DIMS_OUT)/$1/dims_%: $(DIMS_OUT)/driver.o $(DIMS_OUT)/$1/dyn.o $(DIMS_OUT)/$1/fix_%.o \
    $(B)/libnnrt.a
	$(CC) $(TEST_CFLAGS) -o $$@ $$^ $(RT_LIBS)
endef
$(foreach m,$(DIMS_MODELS),$(eval $(call DIMS_MODEL_RULES,$m)))

.SECONDARY: $(DIMS_KEEP)

dims: $(DIMS_BINS)
	@pass=0; fail=0; checks=0; inexact=0; values=0; \
	for r in $(DIMS_RUNS); do \
	  m=$${r%/*}; c=$${r#*/}; log=$(DIMS_OUT)/$$m/dims_$$c.log; \
	  if $(DIMS_OUT)/$$m/dims_$$c $(DIMS_SRC)/$$m.nn $$(echo $$c | tr _ ' ') > $$log 2>&1; then \
	    pass=$$((pass + 1)); \
	  else \
	    fail=$$((fail + 1)); grep -v '^ok ' $$log; echo "dims: $$m $$c failed (log: $$log)"; \
	  fi; \
	  k=$$(sed -n 's/.*: \([0-9]*\) checks passed.*/\1/p' $$log); checks=$$((checks + $${k:-0})); \
	  k=$$(sed -n 's/.*; \([0-9]*\) of [0-9]* values.*/\1/p' $$log); inexact=$$((inexact + $${k:-0})); \
	  k=$$(sed -n 's/.*; [0-9]* of \([0-9]*\) values.*/\1/p' $$log); values=$$((values + $${k:-0})); \
	done; \
	echo "dims: $$pass passed, $$fail failed ($$checks checks passed in all;" \
	     "$$inexact of $$values values compared not bitwise equal)"; \
	[ $$fail -eq 0 ]

CHECK_BINS += $(DIMS_BINS)
CHECK_RUN  += dims

# conv_rows again, compiled for x86-64-v4, where its weight gradients are
# direct (skipped on a CPU without AVX-512).
dims-wide-conv: all
	@if ! grep -qw avx512f /proc/cpuinfo; then echo "dims-wide-conv: skipped, this CPU has no AVX-512"; exit 0; fi; \
	$(MAKE) --no-print-directory dims DIMS_MODELS=conv_rows DIMS_NNC=--cpu=x86-64-v4 DIMS_OUT=$(B)/tests/dims-v4
CHECK_RUN  += dims-wide-conv
.PHONY: dims dims-wide-conv
