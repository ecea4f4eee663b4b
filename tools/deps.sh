#!/bin/sh
# tools/deps.sh PURPOSE: make sure the Debian packages that PURPOSE (check,
# demo, chapters, bench, fuzz) needs are installed.  chapters takes OpenBLAS
# for the BLAS under Debian's PyTorch, whose comparison it runs when
# PyTorch is installed: without it PyTorch falls back to the reference
# BLAS, a tenth of the speed.  check includes the Fashion-MNIST
# data, so the demo's smoke test runs on real data in CI too, Open MPI, for
# libnnrt_mpi and its tests, and clang's libFuzzer, since it fuzzes the
# compiler briefly.  As root it installs what is missing with apt-get;
# otherwise it prints the exact command to run and fails.
set -u
purpose=${1:-check}
pkgs="flex bison llvm-19-dev check zlib1g-dev pkg-config dataset-fashion-mnist valgrind cmake ninja-build groff-base graphviz libopenmpi-dev openmpi-bin"
case $purpose in
  check|fuzz) pkgs="$pkgs clang-19 libclang-rt-19-dev" ;;
  demo)  pkgs="$pkgs gnuplot-nox" ;;
  chapters) pkgs="$pkgs gnuplot-nox libopenblas-dev" ;;
  bench) pkgs="$pkgs libopenblas-dev python3-torch" ;;
  *) echo "usage: tools/deps.sh check|demo|chapters|bench|fuzz" >&2; exit 2 ;;
esac

missing=
for p in $pkgs; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
  case $st in *" installed") ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "nnc needs these Debian packages (or their equivalents):$missing" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "missing packages:$missing" >&2
  echo "run:  sudo apt-get install -y$missing" >&2
  exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq$missing >/dev/null || {
  echo "apt-get failed; run:  apt-get update && apt-get install -y$missing" >&2
  exit 1
}
