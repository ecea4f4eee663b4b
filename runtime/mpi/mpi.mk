# runtime/mpi/mpi.mk: libnnrt_mpi (nnrt_mpi.h, contract 5.7), included by the
# Makefile after the runtime's rules.  It is built with cc and the flags of
# Open MPI's pkg-config file (ompi-c, from libopenmpi-dev), and is part of
# `all` and `make install` only when that file is found; tools/deps.sh
# installs Open MPI for check, demo and bench.

MPI_CFLAGS := $(shell pkg-config --cflags ompi-c 2>/dev/null)
MPI_LIBS   := $(shell pkg-config --libs ompi-c 2>/dev/null)
HAVE_MPI   := $(shell pkg-config --exists ompi-c 2>/dev/null && echo yes)
MPIRT_CFLAGS = $(ALL_CFLAGS) $(MPI_CFLAGS) -MMD -MP -Iruntime -Iruntime/mpi

$(B)/runtime/mpi/nnrt_mpi.o: runtime/mpi/nnrt_mpi.c
	@mkdir -p $(@D)
	$(CC) $(MPIRT_CFLAGS) -c $< -o $@
$(B)/runtime/mpi/nnrt_mpi.pic.o: runtime/mpi/nnrt_mpi.c
	@mkdir -p $(@D)
	$(CC) $(MPIRT_CFLAGS) -fPIC -c $< -o $@
# The static library needs libnnrt.a after it, which holds the descriptor
# view; libnnrt.so hides the view, so the shared library links its own copy.
$(B)/libnnrt_mpi.a: $(B)/runtime/mpi/nnrt_mpi.o
	rm -f $@ && ar rcs $@ $^
$(B)/libnnrt_mpi.so: $(B)/runtime/mpi/nnrt_mpi.pic.o $(B)/runtime/pic/descriptor.o $(B)/libnnrt.so
	$(CC) $(ALL_CFLAGS) -shared -Wl,-soname,libnnrt_mpi.so -o $@ $(filter %.o,$^) \
	  -L$(B) -lnnrt $(MPI_LIBS)

ifeq ($(HAVE_MPI),yes)
all: $(B)/libnnrt_mpi.a $(B)/libnnrt_mpi.so
endif
