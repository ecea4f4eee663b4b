# The command line (contract, section 4).
CHECK_RUN += run-cli-tests
run-cli-tests: $(B)/nnc $(B)/libnnrt.a
	$(SAN_ENV) tests/cli/run.sh $(B)/nnc
