#!/bin/sh
# tools/openblas_core.sh: prints the OPENBLAS_CORETYPE that OpenBLAS, the
# baseline of make bench and the BLAS under Debian's PyTorch in make
# chapters, needs on this CPU, or nothing.  OpenBLAS 0.3.21 (Debian 12)
# does not know some newer CPUs (Intel's family 6 model 207) and falls back
# to its Prescott kernels, at a fifth of its speed or less: a baseline that
# says nothing.  On such a CPU with AVX-512 the nearest core it knows is
# SkylakeX.  An OPENBLAS_CORETYPE already set is left alone.
[ -z "${OPENBLAS_CORETYPE:-}" ] || exit 0
py=python3
command -v $py >/dev/null 2>&1 || py=/usr/bin/python3
core=$($py -c 'import ctypes
lib = ctypes.CDLL("libopenblas.so.0")
lib.openblas_get_corename.restype = ctypes.c_char_p
print(lib.openblas_get_corename().decode())' 2>/dev/null) || exit 0
if [ "$core" = Prescott ] && grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
    echo SkylakeX
fi
