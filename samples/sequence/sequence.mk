# samples/sequence/sequence.mk: the two sequence samples (docs/sequence.md),
# included by the top-level Makefile after samples/chapter/chapter.mk, whose
# helpers (common.c: options, random data, gnuplot) they link:
#
#   make sequence           build both and run them, the PNGs into
#                           $(B)/samples/sequence/ (under a minute)
#   make check-sequence     the reduced variants (--quick); make check runs it
#
#   sine    the book's autoregressive model of a noisy sine, k-step-ahead
#           predictions fed back through an unrolled loop in the model
#   charnn  a character-level RNN over 32 steps on samples/sequence/text.txt,
#           Adam with gradient clipping by global norm in the driver

SEQ     := samples/sequence
SEQ_OUT := $(B)/samples/sequence
SEQ_SAMPLES := sine charnn
SEQ_BINS := $(SEQ_SAMPLES:%=$(SEQ_OUT)/%)
# Each sample's command line, but --out and --quick: charnn's text first.
SEQ_RUNS := sine "charnn $(SEQ)/text.txt"

$(SEQ_OUT)/models/%.o: $(SEQ)/%.nn $(B)/nnc
	@mkdir -p $(@D)
	$(B)/nnc $< -o $@ -H $(@:.o=.h)
$(SEQ_OUT)/models/%.h: $(SEQ_OUT)/models/%.o ;

$(SEQ_OUT)/obj/%.o: $(SEQ)/%.c $(SEQ_OUT)/models/%.h $(CH)/common.h samples/support.h \
    runtime/nnrt.h
	@mkdir -p $(@D)
	$(CC) $(CH_CFLAGS) -I$(SEQ_OUT)/models -c $< -o $@
$(SEQ_BINS): $(SEQ_OUT)/%: $(SEQ_OUT)/obj/%.o $(SEQ_OUT)/models/%.o $(CH_OUT)/common.o \
    $(B)/samples/support.o $(B)/libnnrt.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(RT_LIBS)

sequence: $(SEQ_BINS)
	@set -e; for run in $(SEQ_RUNS); do \
	  set -- $$run; s=$$1; shift; echo "$(SEQ_OUT)/$$s $$* --out $(SEQ_OUT)"; \
	  $(SEQ_OUT)/$$s "$$@" --out $(SEQ_OUT); done

# Each --quick run exits 1 only on a non-finite loss or one that did not fall.
check-sequence: $(SEQ_BINS)
	@failed=; for run in $(SEQ_RUNS); do \
	  set -- $$run; s=$$1; shift; \
	  if $(SEQ_OUT)/$$s "$$@" --quick > $(SEQ_OUT)/$$s.quick.log 2>&1; then \
	    echo "check-sequence: $$s: $$(tail -n 1 $(SEQ_OUT)/$$s.quick.log)"; \
	  else \
	    echo "check-sequence: $$s FAILED; its output:"; cat $(SEQ_OUT)/$$s.quick.log; \
	    failed="$$failed $$s"; \
	  fi; \
	done; \
	[ -z "$$failed" ] || { echo "check-sequence: failed:$$failed"; exit 1; }

CHECK_BINS += $(SEQ_BINS)
CHECK_RUN  += check-sequence

.PHONY: sequence check-sequence
.PRECIOUS: $(SEQ_OUT)/models/%.o $(SEQ_OUT)/models/%.h $(SEQ_OUT)/obj/%.o
