# Generated code under valgrind memcheck: the end-to-end suites of a few
# models (every entry point, bad labels included) and the quickstart must
# run without a single memcheck error.  CK_FORK=no keeps Check's tests in
# the process valgrind watches.
VALGRIND_MODELS := mlp mlp_momentum cross_entropy metrics unrolled_product
VALGRIND = valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
# valgrind cannot run code built with ASan: skipped in SANITIZE builds.
ifneq ($(SANITIZE),1)
CHECK_RUN += run-valgrind-tests
endif

run-valgrind-tests: $(VALGRIND_MODELS:%=$(B)/tests/e2e/e2e_%) $(B)/samples/quickstart
	@for m in $(VALGRIND_MODELS); do \
	  CK_FORK=no $(VALGRIND) $(B)/tests/e2e/e2e_$$m tests/e2e/fixtures/$$m.fix > $(B)/tests/valgrind-$$m.log 2>&1 \
	    || { cat $(B)/tests/valgrind-$$m.log; echo "valgrind: $$m failed"; exit 1; }; \
	done
	@$(VALGRIND) $(B)/samples/quickstart > /dev/null
	@echo "valgrind: $(words $(VALGRIND_MODELS)) models and the quickstart clean"
