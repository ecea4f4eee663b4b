# Test targets, included by the top-level Makefile.
#
# Each area has its own fragment that appends the programs it runs to
# CHECK_RUN (targets that run one suite each) and their binaries to
# CHECK_BINS.  `make check` installs missing packages (tools/deps.sh), builds
# everything, then runs every suite; it fails if any suite fails.

CHECK_BINS :=
CHECK_RUN  :=
TEST_CFLAGS = $(ALL_CFLAGS) $(shell pkg-config --cflags check 2>/dev/null) -Iruntime -Itests
# Scripts that build C against an installed runtime need the sanitizer
# flags too when the runtime was built with them.
SAN_ENV = $(if $(SAN),CFLAGS="$(SAN)" LDFLAGS="$(SAN)")

-include tests/unit/unit.mk
-include tests/runtime/runtime.mk
-include tests/e2e/e2e.mk
-include tests/errors/errors.mk
-include tests/install/install.mk
-include tests/cli/cli.mk
-include tests/buildsys/buildsys.mk
-include tests/fuzz/fuzz.mk
-include tests/valgrind/valgrind.mk
-include tests/dims/dims.mk
-include tests/mpi/mpi.mk
-include tests/threads/threads.mk

check:
	@tools/deps.sh check
	@$(MAKE) --no-print-directory check-run

check-run: all $(CHECK_BINS)
	@$(MAKE) --no-print-directory -k $(CHECK_RUN) && echo "make check: all suites passed"

.PHONY: check check-run $(CHECK_RUN)
