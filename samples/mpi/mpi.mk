# samples/mpi/mpi.mk: the Fashion-MNIST demo trained data-parallel over MPI
# (samples/mpi/train_mpi.c, docs/mpi.md), included by samples/samples.mk.
#
#   make demo-mpi               train 10 epochs on MPI_NP ranks (default 2)
#   make check-demo-mpi-smoke   a quick run that must learn, resume bitwise
#                               on as many ranks and closely on another number

MPI_SAMPLE_OUT := $(SAMPLES_OUT)/mpi
MPI_NP ?= 2

$(MPI_SAMPLE_OUT)/train_mpi: samples/mpi/train_mpi.c $(SAMPLES_OUT)/fashion_mnist.h $(SAMPLES_OUT)/support.o \
    $(SAMPLES_OUT)/fashion_mnist.o $(B)/libnnrt_mpi.a $(B)/libnnrt.a
	@mkdir -p $(@D)
	$(CC) $(SAMPLES_CFLAGS) $(MPI_CFLAGS) -Iruntime/mpi -Isamples -I$(SAMPLES_OUT) -o $@ $< \
	  $(filter %.o %.a,$^) $(MPI_LIBS) $(RT_LIBS)

demo-mpi:
	@tools/deps.sh demo
	@$(MAKE) --no-print-directory demo-mpi-run
# Starts from scratch; rerun with --resume (and any -np) to continue.  One
# thread per rank unless NNRT_NUM_THREADS says otherwise: the ranks share
# this machine's cores.
demo-mpi-run: $(MPI_SAMPLE_OUT)/train_mpi
	. tools/mpi-env.sh && cd $(MPI_SAMPLE_OUT) && NNRT_NUM_THREADS=$${NNRT_NUM_THREADS:-1} \
	  mpirun --oversubscribe -np $(MPI_NP) ./train_mpi --data $(FASHION_DATA)

# About 15 s: 3 epochs on 10000 examples on 2 ranks must lower the loss every
# epoch and reach 0.6 test accuracy; 2 epochs then --resume to 3 on 2 ranks
# must save the same checkpoint, byte for byte; --resume to 3 on 3 ranks
# (uneven shards) must end within 0.01 of that accuracy.  Skipped, with a
# note, when the data set is not installed.
MPI_SMOKE := $(MPI_SAMPLE_OUT)/smoke
check-demo-mpi-smoke: $(MPI_SAMPLE_OUT)/train_mpi
	@if [ ! -d $(FASHION_DATA) ]; then \
	  echo "check-demo-mpi-smoke: skipped, no $(FASHION_DATA) (apt-get install dataset-fashion-mnist)"; \
	  exit 0; fi; \
	set -e; . tools/mpi-env.sh; export NNRT_NUM_THREADS=1; rm -rf $(MPI_SMOKE); mkdir -p $(MPI_SMOKE); cd $(MPI_SMOKE); \
	T="timeout 300 mpirun --oversubscribe"; A="../train_mpi --data $(FASHION_DATA) --limit 10000"; \
	$$T -np 2 $$A --epochs 3 --save a.ckpt > a.log; \
	$$T -np 2 $$A --epochs 2 --save b.ckpt > b.log; cp b.ckpt c.ckpt; \
	$$T -np 2 $$A --epochs 3 --save b.ckpt --resume >> b.log; \
	$$T -np 3 $$A --epochs 3 --save c.ckpt --resume > c.log; \
	awk '/^epoch/ { l[$$2] = $$4 } END { \
	  if (!(l[2] < l[1] && l[3] < l[2])) { print "check-demo-mpi-smoke: the loss did not fall: " l[1] ", " l[2] ", " l[3]; exit 1 } }' a.log; \
	a=$$(tail -n 1 a.log); b=$$(tail -n 1 b.log); c=$$(tail -n 1 c.log); \
	case "$$a" in "final test accuracy: 0."[6-9]*) ;; \
	  *) echo "check-demo-mpi-smoke: expected a final accuracy above 0.6, got: $$a"; exit 1 ;; esac; \
	cmp -s a.ckpt b.ckpt || { echo "check-demo-mpi-smoke: resumed and straight runs on 2 ranks saved different params"; exit 1; }; \
	awk -v a="$${a##* }" -v c="$${c##* }" 'BEGIN { d = a - c; exit !(d < 0.01 && d > -0.01) }' || \
	  { echo "check-demo-mpi-smoke: resumed on 3 ranks: $$c; straight on 2: $$a"; exit 1; }; \
	echo "check-demo-mpi-smoke: passed ($$a; resumed on 3 ranks: $${c##* })"

CHECK_RUN += check-demo-mpi-smoke

.PHONY: demo-mpi demo-mpi-run check-demo-mpi-smoke
