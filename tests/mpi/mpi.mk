# tests/mpi/mpi.mk: the data-parallel tests of libnnrt_mpi (contract 5.7),
# included by tests/tests.mk.  tests/mpi/dp.nn is compiled three ways and
# linked into one program, which tests/mpi/run.sh runs under
# `mpirun -np 2 --oversubscribe` (test_mpi.c lists the checks).  Open MPI is
# in the packages of `make check` (tools/deps.sh).

MPI_TEST_OUT := $(B)/tests/mpi

$(MPI_TEST_OUT)/f32.o: tests/mpi/dp.nn $(B)/nnc
	@mkdir -p $(@D)
	$(B)/nnc --prefix=f32 $< -o $@
$(MPI_TEST_OUT)/f64.o: tests/mpi/dp.nn $(B)/nnc
	@mkdir -p $(@D)
	$(B)/nnc --prefix=f64 --dtype=f64 $< -o $@
$(MPI_TEST_OUT)/wide.o: tests/mpi/dp.nn $(B)/nnc
	@mkdir -p $(@D)
	$(B)/nnc --prefix=wide -D h=8 $< -o $@
$(MPI_TEST_OUT)/test_mpi: tests/mpi/test_mpi.c $(MPI_TEST_OUT)/f32.o $(MPI_TEST_OUT)/f64.o \
    $(MPI_TEST_OUT)/wide.o $(B)/libnnrt_mpi.a $(B)/libnnrt.a
	$(CC) $(TEST_CFLAGS) $(MPI_CFLAGS) -Iruntime/mpi -o $@ $^ $(MPI_LIBS) $(RT_LIBS)

run-mpi-tests: $(MPI_TEST_OUT)/test_mpi
	@tests/mpi/run.sh $<

CHECK_BINS += $(MPI_TEST_OUT)/test_mpi
CHECK_RUN  += run-mpi-tests
