# samples/samples.mk: the Fashion-MNIST demo, included by the top-level
# Makefile after B, CC, ALL_CFLAGS, RT_LIBS and the rules for $(B)/nnc and
# $(B)/libnnrt.a.  docs/demo.md is the guide.
#
# samples/fashion_mnist.nn is compiled once, into $(B)/samples/fashion_mnist.o
# and .h: its batch is a runtime dim (up to 256), so train (training and the
# test set) and predict (any number of images) link the same object.
#
#   make demo-fashion        build, train 10 epochs, label a few test images
#   make check-demo-smoke    a quick run that must learn, resume exactly and
#                            refuse a corrupted checkpoint (needs the data set)

SAMPLES_OUT  := $(B)/samples
# The demo runs where it is built: tune the model for this CPU.
DEMO_NNCFLAGS ?= --cpu=native
SAMPLES_CFLAGS = $(ALL_CFLAGS) -Iruntime
FASHION_DATA ?= /usr/share/datasets/fashion-mnist

$(SAMPLES_OUT)/fashion_mnist.o: samples/fashion_mnist.nn $(B)/nnc
	@mkdir -p $(@D)
	$(B)/nnc $(DEMO_NNCFLAGS) $< -o $@ -H $(SAMPLES_OUT)/fashion_mnist.h
$(SAMPLES_OUT)/fashion_mnist.h: $(SAMPLES_OUT)/fashion_mnist.o

$(SAMPLES_OUT)/train.o: samples/train.c samples/support.h $(SAMPLES_OUT)/fashion_mnist.h runtime/nnrt.h
	$(CC) $(SAMPLES_CFLAGS) -I$(SAMPLES_OUT) -c $< -o $@
$(SAMPLES_OUT)/predict.o: samples/predict.c samples/support.h $(SAMPLES_OUT)/fashion_mnist.h runtime/nnrt.h
	$(CC) $(SAMPLES_CFLAGS) -I$(SAMPLES_OUT) -c $< -o $@

$(SAMPLES_OUT)/support.o: samples/support.c samples/support.h
	@mkdir -p $(@D)
	$(CC) $(SAMPLES_CFLAGS) -c $< -o $@

$(SAMPLES_OUT)/train: $(SAMPLES_OUT)/train.o $(SAMPLES_OUT)/support.o $(SAMPLES_OUT)/fashion_mnist.o \
    $(B)/libnnrt.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(RT_LIBS)
$(SAMPLES_OUT)/predict: $(SAMPLES_OUT)/predict.o $(SAMPLES_OUT)/support.o $(SAMPLES_OUT)/fashion_mnist.o \
    $(B)/libnnrt.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(RT_LIBS)

fashion-bins: $(SAMPLES_OUT)/train $(SAMPLES_OUT)/predict

# The demo writes its checkpoint and plot into $(B)/samples/; it starts from
# scratch each time (rerun train with --resume to continue a stopped one).
demo-fashion: fashion-bins
	cd $(SAMPLES_OUT) && ./train --data $(FASHION_DATA)
	cd $(SAMPLES_OUT) && ./predict --data $(FASHION_DATA)

# About 10 s: 3 epochs on the first 10000 examples must lower the loss every
# epoch and reach 0.6 test accuracy; 2 epochs then --resume to 3 must end on
# exactly the same accuracy and checkpoint; a flipped byte in the checkpoint
# must be refused; predict must label 3 images.  Skipped, with a note, when
# the data set is not installed.
SMOKE := $(SAMPLES_OUT)/smoke
check-demo-smoke: fashion-bins
	@if [ ! -d $(FASHION_DATA) ]; then \
	  echo "check-demo-smoke: skipped, no $(FASHION_DATA) (apt-get install dataset-fashion-mnist)"; \
	  exit 0; fi; \
	set -e; rm -rf $(SMOKE); mkdir -p $(SMOKE); cd $(SMOKE); \
	T="../train --data $(FASHION_DATA) --limit 10000 --plot="; \
	$$T --epochs 3 --save a.ckpt > a.log; \
	$$T --epochs 2 --save b.ckpt > b.log; \
	$$T --epochs 3 --save b.ckpt --resume >> b.log; \
	awk '/^epoch/ { l[$$2] = $$4 } END { \
	  if (!(l[2] < l[1] && l[3] < l[2])) { print "check-demo-smoke: the loss did not fall: " l[1] ", " l[2] ", " l[3]; exit 1 } }' a.log; \
	a=$$(tail -n 1 a.log); b=$$(tail -n 1 b.log); \
	case "$$a" in "final test accuracy: 0."[6-9]*) ;; \
	  *) echo "check-demo-smoke: expected a final accuracy above 0.6, got: $$a"; exit 1 ;; esac; \
	[ "$$a" = "$$b" ] || { echo "check-demo-smoke: resumed run ended on '$$b', straight run on '$$a'"; exit 1; }; \
	cmp -s a.ckpt b.ckpt || { echo "check-demo-smoke: resumed and straight runs saved different params"; exit 1; }; \
	byte=$$(od -An -tu1 -j 1000 -N 1 b.ckpt); \
	printf "\\$$(printf %o $$(( byte ^ 1 )))" | dd of=b.ckpt bs=1 seek=1000 conv=notrunc 2>/dev/null; \
	if $$T --epochs 4 --save b.ckpt --resume > c.log 2> c.err; then \
	  echo "check-demo-smoke: a corrupted checkpoint was accepted"; exit 1; fi; \
	grep -q 'cannot resume' c.err || { echo "check-demo-smoke: unclear refusal:"; cat c.err; exit 1; }; \
	../predict --data $(FASHION_DATA) --ckpt a.ckpt -n 3 > p.log; \
	[ $$(grep -c ' true: ' p.log) = 3 ] || { echo "check-demo-smoke: predict printed:"; cat p.log; exit 1; }; \
	echo "check-demo-smoke: passed ($$a)"

# make check runs it too, when this file is included after tests/tests.mk.
CHECK_RUN += check-demo-smoke

.PHONY: fashion-bins demo-fashion check-demo-smoke
include samples/data/data.mk
include samples/mpi/mpi.mk
