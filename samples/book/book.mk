# samples/book/book.mk: the book's chapters as runnable samples
# (docs/chapters.md), included by the top-level Makefile after
# samples/chapter/chapter.mk, whose helpers (common.c: options, random
# numbers, Fashion-MNIST, gnuplot) they link with samples/book/book.c:
#
#   make chapters          build every sample and run it at the book's
#                          hyperparameters, then its PyTorch twin when torch
#                          is installed (8 minutes on 2 shared cores); the
#                          PNGs, logs and summary.txt into $(B)/samples/book/
#   make chapters GALLERY=1  the same, and copy the PNGs into docs/img/book/
#   make book-NAME         one sample alone (NAME: one of BK_SAMPLES)
#   make check-book        the reduced variants (--quick, a few seconds
#                          each); make check runs it
#
# Each sample is a model samples/book/NAME.nn (the MLP's is the demo's,
# samples/fashion_mnist.nn) and a driver samples/book/NAME.c.  The models
# are also linked into shared objects, through which torch_book.py takes
# nnc's initial params, its data and its shuffling order, so that both
# sides start from the same point.

BK      := samples/book
BK_OUT  := $(B)/samples/book
BK_DATA ?= $(or $(FASHION_DATA),/usr/share/datasets/fashion-mnist)
# The samples run where they are built: tune the models for this CPU.
BK_NNCFLAGS ?= --cpu=native
# The Python with torch; empty: python3, else /usr/bin/python3 (Debian's
# PyTorch), whichever imports torch.
BK_PYTHON ?=
BK_FIND_PYTHON = py="$(BK_PYTHON)"; [ -n "$$py" ] || for p in python3 /usr/bin/python3; do \
                   if $$p -c 'import torch' 2>/dev/null; then py=$$p; break; fi; done

BK_SAMPLES := linreg softmax weight_decay mlp dropout lenet lenet_bn adam resnet
BK_MODEL_mlp := fashion_mnist
# The samples that train on Fashion-MNIST (--data DIR); the others draw
# the book's synthetic data.
BK_FASHION := softmax mlp dropout lenet lenet_bn adam resnet
bk_model = $(or $(BK_MODEL_$(1)),$(1))
BK_BINS := $(BK_SAMPLES:%=$(BK_OUT)/%)

# Models: NAME.o, NAME.h, and NAME.so for torch_book.py.
$(BK_OUT)/models/%.o: $(BK)/%.nn $(B)/nnc
	@mkdir -p $(@D)
	$(B)/nnc $(BK_NNCFLAGS) $< -o $@ -H $(@:.o=.h)
$(BK_OUT)/models/fashion_mnist.o: samples/fashion_mnist.nn $(B)/nnc
	@mkdir -p $(@D)
	$(B)/nnc $(BK_NNCFLAGS) $< -o $@ -H $(@:.o=.h)
$(BK_OUT)/models/%.h: $(BK_OUT)/models/%.o ;
$(BK_OUT)/models/%.so: $(BK_OUT)/models/%.o $(B)/libnnrt.so
	$(CC) -shared -o $@ $< -L$(B) -lnnrt -Wl,-rpath,$(abspath $(B))

$(BK_OUT)/book.o: $(BK)/book.c $(BK)/book.h $(CH)/common.h samples/support.h runtime/nnrt.h
	@mkdir -p $(@D)
	$(CC) $(CH_CFLAGS) -c $< -o $@

define BK_DRIVER
$(BK_OUT)/obj/$(1).o: $(BK)/$(1).c $(BK)/book.h $(CH)/common.h runtime/nnrt.h \
    $(BK_OUT)/models/$(call bk_model,$(1)).h
	@mkdir -p $$(@D)
	$$(CC) $$(CH_CFLAGS) -I$(BK_OUT)/models -c $$< -o $$@
$(BK_OUT)/$(1): $(BK_OUT)/obj/$(1).o $(BK_OUT)/models/$(call bk_model,$(1)).o $(BK_OUT)/book.o \
    $(CH_OUT)/common.o $(B)/samples/support.o $(B)/libnnrt.a
	$$(CC) $$(ALL_CFLAGS) -o $$@ $$^ $$(RT_LIBS)
# One sample, then its PyTorch twin; the outputs also go to NAME.log and
# NAME.torch.log.  PyTorch's BLAS (OpenBLAS) gets the core it needs on this
# CPU (tools/openblas_core.sh) and nnc's thread count.
book-$(1): SHELL := /bin/bash
book-$(1): $(BK_OUT)/$(1) $(BK_OUT)/models/$(call bk_model,$(1)).so
	@echo "== $(1): nnc"
	@set -o pipefail; $(BK_OUT)/$(1) --out $(BK_OUT) $(if $(filter $(1),$(BK_FASHION)),--data $(BK_DATA)) \
	  | tee $(BK_OUT)/$(1).log
	@set -o pipefail; $$(BK_FIND_PYTHON); rm -f $(BK_OUT)/$(1).torch.log; \
	if [ -z "$$$$py" ]; then echo "== $(1): PyTorch skipped: no python3 with torch"; exit 0; fi; \
	core=$$$$(tools/openblas_core.sh); [ -z "$$$$core" ] || export OPENBLAS_CORETYPE=$$$$core; \
	[ -z "$$$${NNRT_NUM_THREADS:-}" ] || export OPENBLAS_NUM_THREADS=$$$$NNRT_NUM_THREADS; \
	echo "== $(1): PyTorch ($$$$py$$$${OPENBLAS_CORETYPE:+, OPENBLAS_CORETYPE=$$$$OPENBLAS_CORETYPE})"; \
	$$$$py $(BK)/torch_book.py $(1) --lib $(BK_OUT)/models/$(call bk_model,$(1)).so \
	  --data $(BK_DATA) | tee $(BK_OUT)/$(1).torch.log
.PHONY: book-$(1)
endef
$(foreach s,$(BK_SAMPLES),$(eval $(call BK_DRIVER,$(s))))

# Every sample in turn (one at a time: the times per epoch are measured),
# then summary.txt: each side's final line and time per epoch.  Both sides
# run on one thread unless NNRT_NUM_THREADS says otherwise (torch_book.py
# takes libnnrt's count): PyTorch's eager steps on 2 threads of these
# 2-core machines took up to 4 times as long as on one.
chapters:
	@tools/deps.sh chapters
	@$(MAKE) --no-print-directory chapters-run
chapters-run: SHELL := /bin/bash
chapters-run: $(BK_BINS) $(foreach s,$(BK_SAMPLES),$(BK_OUT)/models/$(call bk_model,$(s)).so)
	@start=$$(date +%s); export NNRT_NUM_THREADS=$${NNRT_NUM_THREADS:-1}; \
	for s in $(BK_SAMPLES); do $(MAKE) --no-print-directory book-$$s || exit 1; done; \
	for s in $(BK_SAMPLES); do for side in nnc torch; do \
	  log=$(BK_OUT)/$$s.log; [ $$side = nnc ] || log=$(BK_OUT)/$$s.torch.log; [ -f $$log ] || continue; \
	  printf '%-13s %-6s %-40s %s\n' $$s $$side "$$(grep '^final ' $$log)" \
	    "$$(grep -o '[0-9.e-]* s of training per epoch' $$log)"; \
	done; done > $(BK_OUT)/summary.txt; \
	echo "== summary ($$(( $$(date +%s) - start )) s in all)"; cat $(BK_OUT)/summary.txt
ifeq ($(GALLERY),1)
	@mkdir -p docs/img/book
	cp $(BK_OUT)/*.png docs/img/book/
endif

# Each --quick run exits 1 only on a non-finite loss, a loss that did not
# fall, or what its driver says (linreg: w or b off by 0.01; weight_decay:
# a penalty that did not lower the test loss).
check-book: $(BK_SAMPLES:%=check-book-%)
check-book-%: $(BK_OUT)/%
	@$< --quick > $<.quick.log 2>&1 && echo "check-book: $*: $$(tail -n 1 $<.quick.log)" \
	  || { echo "check-book: $* FAILED; its output:"; cat $<.quick.log; exit 1; }

CHECK_BINS += $(BK_BINS)
CHECK_RUN  += check-book

.PHONY: chapters chapters-run check-book
.PRECIOUS: $(BK_OUT)/models/%.o $(BK_OUT)/models/%.h $(BK_OUT)/models/%.so $(BK_OUT)/obj/%.o
