# The command line (contract, section 4).
CHECK_RUN += run-cli-tests
run-cli-tests: $(B)/nnc
	tests/cli/run.sh $(B)/nnc
