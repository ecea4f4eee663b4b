# nnc: an ahead-of-time compiler for training neural networks.
#
#   make            build build/nnc, build/libnnrt.a and build/libnnrt.so
#   make check      build everything and run every test
#   make demo       train the sample network
#   make install    PREFIX=/usr/local DESTDIR=
#   make SANITIZE=1 build with ASan and UBSan
#
# Both `check` and `demo` first run tools/deps.sh, which installs missing
# Debian packages when run as root and otherwise prints the apt-get line.

PREFIX    ?= /usr/local
DESTDIR   ?=
LLVM_CONFIG ?= llvm-config-19
B         := build

CC        ?= cc
WARN      := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
             -Wno-unused-parameter -Wvla
OPT       ?= -O2 -g
CFLAGS    ?=
ALL_CFLAGS = -std=c11 -D_XOPEN_SOURCE=700 $(OPT) $(WARN) $(SAN) $(CFLAGS)
ifeq ($(SANITIZE),1)
SAN       := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

LLVM_CFLAGS  = $(shell $(LLVM_CONFIG) --cflags 2>/dev/null | sed 's/-D_GNU_SOURCE//')
LLVM_LDFLAGS = $(shell $(LLVM_CONFIG) --ldflags 2>/dev/null) $(shell $(LLVM_CONFIG) --libs 2>/dev/null) \
               -Wl,-rpath,$(shell $(LLVM_CONFIG) --libdir 2>/dev/null)
CHECK_LIBS   = $(shell pkg-config --libs check 2>/dev/null)

# ---- runtime ----
RT_SRC  := $(wildcard runtime/*.c)
RT_OBJ  := $(RT_SRC:runtime/%.c=$(B)/runtime/%.o)
RT_PIC  := $(RT_SRC:runtime/%.c=$(B)/runtime/pic/%.o)
RT_LIBS := -lz -lm -pthread

# ---- compiler ----
GRAMMAR_C := $(B)/grammar/parser.c $(B)/grammar/lexer.c
CC_SRC    := $(wildcard compiler/*.c)
CC_OBJ    := $(CC_SRC:compiler/%.c=$(B)/compiler/%.o) $(GRAMMAR_C:.c=.o) $(B)/grammar/parse.o
CC_LIBOBJ := $(filter-out $(B)/compiler/main.o,$(CC_OBJ))

all: $(B)/nnc $(B)/libnnrt.a $(B)/libnnrt.so

$(B)/runtime/%.o: runtime/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -Iruntime -c $< -o $@
$(B)/runtime/pic/%.o: runtime/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -fPIC -MMD -MP -Iruntime -c $< -o $@
$(B)/libnnrt.a: $(RT_OBJ)
	rm -f $@ && ar rcs $@ $^
$(B)/libnnrt.so: $(RT_PIC)
	$(CC) $(ALL_CFLAGS) -shared -Wl,-soname,libnnrt.so -o $@ $^ $(RT_LIBS)

# libnnrt_mpi, when Open MPI is installed.
include runtime/mpi/mpi.mk

$(B)/grammar/parser.c $(B)/grammar/parser.h: grammar/parser.y
	@mkdir -p $(@D)
	bison -Wall -Werror --defines=$(B)/grammar/parser.h -o $(B)/grammar/parser.c $<
$(B)/grammar/lexer.c $(B)/grammar/lexer.h: grammar/lexer.l $(B)/grammar/parser.h
	@mkdir -p $(@D)
	flex --header-file=$(B)/grammar/lexer.h -o $(B)/grammar/lexer.c $<
$(B)/grammar/%.o: $(B)/grammar/%.c
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -Wno-unused-function -Wno-sign-compare \
	  -MMD -MP -Icompiler -Igrammar -I$(B)/grammar -Iruntime -c $< -o $@
$(B)/grammar/parse.o: grammar/parse.c $(B)/grammar/parser.h $(B)/grammar/lexer.h
	$(CC) $(ALL_CFLAGS) -MMD -MP -Icompiler -Igrammar -I$(B)/grammar -Iruntime -c $< -o $@
# A switch over ops (or any enum) names every value: a new op in
# compiler/ops.h cannot be forgotten silently (compiler/nnc.h, LEAF_OPS ...).
$(B)/compiler/%.o: compiler/%.c $(B)/grammar/parser.h $(B)/grammar/lexer.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Werror=switch-enum $(LLVM_CFLAGS) -MMD -MP -Icompiler -I$(B)/grammar -Iruntime -c $< -o $@
# nnc links the runtime for --gradcheck, which runs models in process.
$(B)/nnc: $(CC_OBJ) $(B)/libnnrt.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LLVM_LDFLAGS) $(RT_LIBS)

-include $(wildcard $(B)/*/*.d $(B)/*/*/*.d)

# ---- tests, samples ----
include tests/tests.mk
include samples/samples.mk
include bench/bench.mk

include samples/chapter/chapter.mk
include samples/sequence/sequence.mk
include samples/book/book.mk

# The main job: train the sample network on Fashion-MNIST.
demo:
	@tools/deps.sh demo
	@$(MAKE) --no-print-directory demo-fashion

# The chapter, run: the six samples with their plots (docs/gallery.md).
samples:
	@tools/deps.sh demo
	@$(MAKE) --no-print-directory chapter-run
.PHONY: demo samples

# ---- install ----
# A program linked with `pkg-config --libs nnrt` must start without
# LD_LIBRARY_PATH.  The loader finds libnnrt.so by itself only in its
# trusted directories (/lib, /usr/lib), and in those listed in
# /etc/ld.so.conf (/usr/local/lib) only once ldconfig has cached it; so
# nnrt.pc carries a run path to its libdir for every prefix but /usr (and
# /), and a root install into the live system (no DESTDIR) runs ldconfig.
# The run path names PREFIX, not DESTDIR: a staged tree works once it is
# moved into place.
LIBDIR      = $(PREFIX)/lib
NNRT_RPATH  = -Wl,-rpath,$${libdir}
PC_RPATH    = $(if $(filter /lib /usr/lib,$(abspath $(LIBDIR))),,$(NNRT_RPATH) )
PC_SUBST    = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@RPATH@|$(PC_RPATH)|g'
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include \
	  $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/lib/cmake/nnc \
	  $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(B)/nnc $(DESTDIR)$(PREFIX)/bin/nnc
	install -m 644 runtime/nnrt.h $(DESTDIR)$(PREFIX)/include/nnrt.h
	install -m 644 $(B)/libnnrt.a $(DESTDIR)$(PREFIX)/lib/libnnrt.a
	install -m 755 $(B)/libnnrt.so $(DESTDIR)$(PREFIX)/lib/libnnrt.so
	$(PC_SUBST) runtime/nnrt.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/nnrt.pc
ifeq ($(HAVE_MPI),yes)
	install -m 644 runtime/mpi/nnrt_mpi.h $(DESTDIR)$(PREFIX)/include/nnrt_mpi.h
	install -m 644 $(B)/libnnrt_mpi.a $(DESTDIR)$(PREFIX)/lib/libnnrt_mpi.a
	install -m 755 $(B)/libnnrt_mpi.so $(DESTDIR)$(PREFIX)/lib/libnnrt_mpi.so
	$(PC_SUBST) runtime/mpi/nnrt-mpi.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/nnrt-mpi.pc
endif
	install -m 644 cmake/nncConfig.cmake cmake/nncConfigVersion.cmake $(DESTDIR)$(PREFIX)/lib/cmake/nnc/
	install -m 644 man/nnc.1 $(DESTDIR)$(PREFIX)/share/man/man1/nnc.1
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
	  PATH="$$PATH:/sbin:/usr/sbin" ldconfig || echo "make install: ldconfig failed; run it before using libnnrt.so" >&2; fi

clean:
	rm -rf $(B)

.PHONY: all install clean
.DELETE_ON_ERROR:

# ---- samples ----
$(B)/samples/quickstart: samples/quickstart.c samples/mlp.nn $(B)/nnc $(B)/libnnrt.a
	@mkdir -p $(@D)
	$(B)/nnc -D d=20 -D h=32 -D q=4 -D batch=64 samples/mlp.nn -o $(B)/samples/mlp.o
	$(CC) $(ALL_CFLAGS) -I$(B)/samples -Iruntime $< $(B)/samples/mlp.o $(B)/libnnrt.a $(RT_LIBS) -o $@
quickstart: $(B)/samples/quickstart
	$(B)/samples/quickstart
.PHONY: quickstart
