# samples/data/data.mk: the data API's runnable examples (docs/runtime.md,
# "Data: ..." sections), included by samples/samples.mk.
#
#   regress    linreg.nn on synthetic data from memory: tensorsets, batches by
#              input name with a runtime batch dim, nnrt_evaluate, nnrt_find
#   chars      bigram.nn on text files: vocabulary, token windows, perplexity
#
#   make check-data-samples    build both and check what they learn
#
# And the runnable examples of docs/runtime.md's data sections, extracted as
# printed.  All run in a few seconds; make check runs them.

DATA_OUT := $(B)/samples/data

$(DATA_OUT)/linreg.o: samples/data/linreg.nn $(B)/nnc
	@mkdir -p $(@D)
	$(B)/nnc $< -o $@ -H $(DATA_OUT)/linreg.h
$(DATA_OUT)/linreg.h: $(DATA_OUT)/linreg.o
$(DATA_OUT)/bigram.o: samples/data/bigram.nn $(B)/nnc
	@mkdir -p $(@D)
	$(B)/nnc $< -o $@ -H $(DATA_OUT)/bigram.h
$(DATA_OUT)/bigram.h: $(DATA_OUT)/bigram.o

$(DATA_OUT)/regress: samples/data/regress.c $(DATA_OUT)/linreg.h $(DATA_OUT)/linreg.o \
    $(B)/libnnrt.a runtime/nnrt.h
	$(CC) $(ALL_CFLAGS) -Iruntime -I$(DATA_OUT) -o $@ $< $(DATA_OUT)/linreg.o $(B)/libnnrt.a $(RT_LIBS)
$(DATA_OUT)/chars: samples/data/chars.c $(DATA_OUT)/bigram.h $(DATA_OUT)/bigram.o \
    $(B)/libnnrt.a runtime/nnrt.h
	$(CC) $(ALL_CFLAGS) -Iruntime -I$(DATA_OUT) -o $@ $< $(DATA_OUT)/bigram.o $(B)/libnnrt.a $(RT_LIBS)

# The complete programs of docs/runtime.md's data sections, each the ```c
# block after a "<!-- runnable: NAME -->" line, compiled as printed.
$(DATA_OUT)/doc_%.c: docs/runtime.md
	@mkdir -p $(@D)
	awk -v want=$* '/<!-- runnable: / { name = $$3 } \
	  /^```c$$/ && name == want { on = 1; next } /^```$$/ { if (on) exit; name = "" } on' $< > $@
	@test -s $@ || { echo "docs/runtime.md has no runnable example $*"; rm -f $@; exit 1; }
$(DATA_OUT)/doc_data_memory: $(DATA_OUT)/doc_data_memory.c $(DATA_OUT)/linreg.h $(DATA_OUT)/linreg.o \
    $(B)/libnnrt.a runtime/nnrt.h
	$(CC) $(ALL_CFLAGS) -Iruntime -I$(DATA_OUT) -o $@ $< $(DATA_OUT)/linreg.o $(B)/libnnrt.a $(RT_LIBS)
$(DATA_OUT)/doc_data_idx: $(DATA_OUT)/doc_data_idx.c $(SAMPLES_OUT)/fashion_mnist.h \
    $(SAMPLES_OUT)/fashion_mnist.o $(B)/libnnrt.a runtime/nnrt.h
	$(CC) $(ALL_CFLAGS) -Iruntime -I$(SAMPLES_OUT) -o $@ $< $(SAMPLES_OUT)/fashion_mnist.o \
	  $(B)/libnnrt.a $(RT_LIBS)
$(DATA_OUT)/doc_data_text: $(DATA_OUT)/doc_data_text.c $(B)/libnnrt.a runtime/nnrt.h
	$(CC) $(ALL_CFLAGS) -Iruntime -o $@ $< $(B)/libnnrt.a $(RT_LIBS)

DATA_DOCS := $(DATA_OUT)/doc_data_memory $(DATA_OUT)/doc_data_idx $(DATA_OUT)/doc_data_text

data-samples: $(DATA_OUT)/regress $(DATA_OUT)/chars $(DATA_DOCS)

# regress must end within 0.01 of the true w and b with a validation loss
# below 1e-3 (the noise's is 5e-5); chars, trained on docs/language.md and
# validated on docs/runtime.md, must bring the perplexity from 28 (every
# character equally likely) below 16.
check-data-samples: data-samples
	@set -e; cd $(DATA_OUT); \
	./regress > regress.log; \
	awk '/^epoch 3:/ { loss = $$(NF - 2) + 0; if (loss < 1e-3) ok = 1 } \
	     /^w = / { gsub(/[\[\],]/, ""); w0 = $$3; w1 = $$4; b = $$7; \
	       if (w0 > 1.99 && w0 < 2.01 && w1 > -3.41 && w1 < -3.39 && b > 4.19 && b < 4.21) wok = 1 } \
	     END { exit !(ok && wok) }' regress.log \
	  || { echo "check-data-samples: regress did not learn:"; cat regress.log; exit 1; }; \
	./chars $(CURDIR)/docs/language.md $(CURDIR)/docs/runtime.md > chars.log; \
	awk '/^before training/ { if ($$NF > 27 && $$NF < 29) a = 1 } \
	     /^epoch 2:/ { if ($$NF < 16) b = 1 } END { exit !(a && b) }' chars.log \
	  || { echo "check-data-samples: chars did not learn:"; cat chars.log; exit 1; }; \
	./doc_data_memory > doc_data_memory.log \
	  || { echo "check-data-samples: docs/runtime.md's data_memory example failed:"; \
	       cat doc_data_memory.log; exit 1; }; \
	./doc_data_text $(CURDIR)/docs/language.md > doc_data_text.log \
	  || { echo "check-data-samples: docs/runtime.md's data_text example failed:"; \
	       cat doc_data_text.log; exit 1; }; \
	if [ -d $(FASHION_DATA) ]; then \
	  ./doc_data_idx $(FASHION_DATA) > doc_data_idx.log \
	    || { echo "check-data-samples: docs/runtime.md's data_idx example failed:"; \
	         cat doc_data_idx.log; exit 1; }; \
	  grep -q '^10000 test images \[28, 28\]: accuracy 0\.' doc_data_idx.log \
	    || { echo "check-data-samples: data_idx printed:"; cat doc_data_idx.log; exit 1; }; \
	else echo "check-data-samples: data_idx skipped, no $(FASHION_DATA)"; fi; \
	echo "check-data-samples: passed ($$(tail -n 1 regress.log); $$(tail -n 1 chars.log))"

CHECK_RUN += check-data-samples

.PHONY: data-samples check-data-samples
