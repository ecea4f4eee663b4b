# samples/chapter/chapter.mk: the chapter's six samples (docs/gallery.md),
# included by the top-level Makefile after B, CC, ALL_CFLAGS, RT_LIBS, the
# rules for $(B)/nnc and $(B)/libnnrt.a, and tests/tests.mk:
#
#   include samples/chapter/chapter.mk
#
#   make samples            (the Makefile) tools/deps.sh demo (gnuplot,
#                           Fashion-MNIST), then chapter-run: all six (about
#                           4 minutes on 2 cores), PNGs into build/samples/chapter/
#   make samples GALLERY=1  the same, and copy the PNGs into docs/img/
#   make check-chapter      the reduced variants (--quick), each asserting its
#                           result; make check runs it (CHECK_RUN)
#
# Each sample is a driver samples/chapter/NAME.c and the models it links,
# samples/chapter/MODEL.nn, compiled by nnc into $(B)/samples/chapter/models/.
# Batches and data sets are runtime dims (`dim batch <= 256`, covariate's
# `dim n`): a model is compiled once for any batch, a driver sets the rows
# in use per call.  The reduced variants of symmetry, initialization and
# dropout are the same drivers linked against builds of their models with
# smaller widths (-D), in $(B)/samples/chapter/quick/; covariate's --quick
# uses the regular build with smaller sets (n = 2000 at run time).

CH      := samples/chapter
CH_OUT  := $(B)/samples/chapter
CH_DATA ?= $(or $(FASHION_DATA),/usr/share/datasets/fashion-mnist)
CH_CFLAGS = $(ALL_CFLAGS) -Iruntime

CH_SAMPLES := exploding vanishing symmetry initialization covariate dropout
CH_QUICK   := symmetry initialization dropout
CH_MODELS_exploding      := exploding
CH_MODELS_vanishing      := sigmoid deep
CH_MODELS_symmetry       := symmetry
CH_MODELS_initialization := initialization
CH_MODELS_covariate      := covariate domain
CH_MODELS_dropout        := dropout
# The quick builds, per model: small inputs, hidden layers and batches
# (synthetic data; -D batch sets the dim's MAX).
CH_QUICK_DEFS_symmetry       := -D d=64 -D h=32 -D q=4 -D batch=64
CH_QUICK_DEFS_initialization := -D d=64 -D h=32 -D q=4 -D batch=64
CH_QUICK_DEFS_dropout        := -D d=64 -D h=32 -D q=4 -D batch=64

CH_BINS  := $(CH_SAMPLES:%=$(CH_OUT)/%)
CH_QBINS := $(CH_QUICK:%=$(CH_OUT)/quick/%)
# What check-chapter runs: the quick build of a sample if it has one.
CH_CHECK_BINS := $(filter-out $(CH_QUICK:%=$(CH_OUT)/%),$(CH_BINS)) $(CH_QBINS)

# Models: MODEL.o and MODEL.h.
$(CH_OUT)/models/%.o: $(CH)/%.nn $(B)/nnc
	@mkdir -p $(@D)
	$(B)/nnc $< -o $@ -H $(@:.o=.h)
$(CH_OUT)/quick/models/%.o: $(CH)/%.nn $(B)/nnc
	@mkdir -p $(@D)
	$(B)/nnc $(CH_QUICK_DEFS_$*) $< -o $@ -H $(@:.o=.h)
$(CH_OUT)/models/%.h: $(CH_OUT)/models/%.o ;
$(CH_OUT)/quick/models/%.h: $(CH_OUT)/quick/models/%.o ;

$(CH_OUT)/common.o: $(CH)/common.c $(CH)/common.h samples/support.h runtime/nnrt.h
	@mkdir -p $(@D)
	$(CC) $(CH_CFLAGS) -c $< -o $@

# Drivers: NAME.c against the headers of its models.
define CH_DRIVER
$(CH_OUT)/obj/$(1).o: $(CH)/$(1).c $(CH)/common.h samples/support.h runtime/nnrt.h \
    $(CH_MODELS_$(1):%=$(CH_OUT)/models/%.h)
	@mkdir -p $$(@D)
	$$(CC) $$(CH_CFLAGS) -I$(CH_OUT)/models -c $$< -o $$@
$(CH_OUT)/$(1): $(CH_OUT)/obj/$(1).o $(CH_MODELS_$(1):%=$(CH_OUT)/models/%.o) \
    $(CH_OUT)/common.o $(B)/samples/support.o $(B)/libnnrt.a
	$$(CC) $$(ALL_CFLAGS) -o $$@ $$^ $$(RT_LIBS)
endef
define CH_QUICK_DRIVER
$(CH_OUT)/quick/obj/$(1).o: $(CH)/$(1).c $(CH)/common.h samples/support.h runtime/nnrt.h \
    $(CH_MODELS_$(1):%=$(CH_OUT)/quick/models/%.h)
	@mkdir -p $$(@D)
	$$(CC) $$(CH_CFLAGS) -I$(CH_OUT)/quick/models -c $$< -o $$@
$(CH_OUT)/quick/$(1): $(CH_OUT)/quick/obj/$(1).o \
    $(CH_MODELS_$(1):%=$(CH_OUT)/quick/models/%.o) $(CH_OUT)/common.o $(B)/samples/support.o $(B)/libnnrt.a
	$$(CC) $$(ALL_CFLAGS) -o $$@ $$^ $$(RT_LIBS)
endef
$(foreach s,$(CH_SAMPLES),$(eval $(call CH_DRIVER,$(s))))
$(foreach s,$(CH_QUICK),$(eval $(call CH_QUICK_DRIVER,$(s))))

# The full runs; the Makefile's `samples` installs what they need first.
chapter-run: $(CH_BINS)
	$(CH_OUT)/exploding --out $(CH_OUT)
	$(CH_OUT)/vanishing --out $(CH_OUT)
	$(CH_OUT)/symmetry --out $(CH_OUT) --data $(CH_DATA)
	$(CH_OUT)/initialization --out $(CH_OUT) --data $(CH_DATA)
	$(CH_OUT)/covariate --out $(CH_OUT)
	$(CH_OUT)/dropout --out $(CH_OUT) --data $(CH_DATA)
ifeq ($(GALLERY),1)
	@mkdir -p docs/img
	cp $(CH_OUT)/*.png docs/img/
endif

check-chapter: $(CH_CHECK_BINS)
	@failed=; for s in $(CH_SAMPLES); do \
	  bin=$(CH_OUT)/$$s; case " $(CH_QUICK) " in *" $$s "*) bin=$(CH_OUT)/quick/$$s;; esac; \
	  if $$bin --quick > $(CH_OUT)/$$s.quick.log 2>&1; then \
	    echo "check-chapter: $$s: $$(tail -n 1 $(CH_OUT)/$$s.quick.log)"; \
	  else \
	    echo "check-chapter: $$s FAILED; its output:"; cat $(CH_OUT)/$$s.quick.log; failed="$$failed $$s"; \
	  fi; \
	done; \
	[ -z "$$failed" ] || { echo "check-chapter: failed:$$failed"; exit 1; }

CHECK_BINS += $(CH_CHECK_BINS)
CHECK_RUN  += check-chapter

.PHONY: chapter-run check-chapter
.PRECIOUS: $(CH_OUT)/models/%.o $(CH_OUT)/models/%.h $(CH_OUT)/quick/models/%.o \
    $(CH_OUT)/quick/models/%.h
