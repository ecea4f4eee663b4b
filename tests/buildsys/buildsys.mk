# nnc in a user's CMake and Make builds, and the man page.
CHECK_RUN += run-buildsys-tests
run-buildsys-tests: all
	$(SAN_ENV) tests/buildsys/run.sh
