# A new user's path: install, pkg-config, compile, link, run; the README's
# quickstart as printed (tests/install/run.sh).
CHECK_RUN += run-install-test
run-install-test: all
	$(SAN_ENV) B=$(B) tests/install/run.sh
