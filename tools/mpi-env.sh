# tools/mpi-env.sh: sourced (.) from the top of the tree before mpirun, by
# the MPI tests, demo and benchmark.
#
# Open MPI's mpirun refuses to start as root unless both variables below say
# it is meant; CI and containers run as root.
#
# Under SANITIZE=1, LeakSanitizer would report Open MPI's own blocks, kept
# from MPI_Init to the exit: tests/mpi/lsan.supp suppresses the stacks
# through its libraries, which LeakSanitizer sees only with the slow
# unwinder (Open MPI's plugins have no frame pointers).  Both settings are
# harmless for programs built without sanitizers.
if [ "$(id -u)" = 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export LSAN_OPTIONS="suppressions=$(pwd)/tests/mpi/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export ASAN_OPTIONS="fast_unwind_on_malloc=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
