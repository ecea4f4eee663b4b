# Golden diagnostics for malformed models (tests/errors/run.sh).
CHECK_RUN += run-error-tests
run-error-tests: $(B)/nnc
	tests/errors/run.sh $(B)/nnc
