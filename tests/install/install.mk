# A new user's path: install, pkg-config, compile, link, run.
CHECK_RUN += run-install-test
run-install-test: all
	$(SAN_ENV) tests/install/run.sh
