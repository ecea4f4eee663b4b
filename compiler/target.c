/*
 * target.c: which machine the code is for, checked before LLVM is asked to
 * generate any (docs/guarantees.md, "Targets and CPUs").
 *
 * LLVM reports a bad CPU or an impossible target with a warning on stderr
 * and later a fatal error that ends the process (`--cpu=i386` on x86-64:
 * "64-bit code requested on a subtarget that doesn't support it!").  So
 * before any code is generated: the triple must name one of the
 * architectures nnc supports (SUPPORTED below) with 64-bit pointers; the CPU
 * must be one of the target's, as LLVM lists them; and a CPU other than
 * generic must compile a small probe function in a child process, where a
 * fatal error of LLVM's costs nothing.  An error that LLVM still finds
 * later is reported, with the outputs removed, by fatal_error below.
 *
 * The C API has no call that lists a target's CPUs: LLVM prints them when
 * asked for the CPU "help", which a child process does into a pipe.
 */
#include "codegen.h"

#include <llvm-c/Core.h>
#include <llvm-c/ErrorHandling.h>
#include <llvm-c/Support.h>
#include <llvm/Config/llvm-config.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* LLVM's names of the targets nnc generates code for: what the tests
 * compile (tests/cli) and the examples run on.  32-bit and big-endian
 * variants (i686, armv7, aarch64_be) and the other architectures (riscv64,
 * ppc64le, s390x, wasm32, and GPUs, BPF, VE, whose code is no C function)
 * are refused: some fail in LLVM on nnc's code, none is tested. */
static const struct { const char *llvm_name, *arch, *example; } SUPPORTED[] = {
    {"x86-64", "x86_64", "x86_64-linux-gnu"},
    {"aarch64", "aarch64", "aarch64-linux-gnu"},
};
enum { NSUPPORTED = sizeof SUPPORTED / sizeof *SUPPORTED };

static const char *supported_list(void) {
    const char *s = "";
    for (int i = 0; i < NSUPPORTED; i++)
        s = arena_printf("%s%s%s (e.g. --target=%s)", s, i ? ", " : "", SUPPORTED[i].arch, SUPPORTED[i].example);
    return s;
}

static void init_llvm(void) {
    static bool done;
    if (done)
        return;
    done = true;
    LLVMInitializeAllTargetInfos();
    LLVMInitializeAllTargets();
    LLVMInitializeAllTargetMCs();
    LLVMInitializeAllAsmPrinters();
}

/* ---- child processes ---- */

/* Run fn(arg, fd) in a child whose stderr and fd both go to a pipe; the
 * text written there (NUL-terminated, in the arena) and the exit status
 * (-1: a signal, or fork failed). */
static char *in_child(void (*fn)(void *arg, int fd), void *arg, int *status) {
    int p[2];
    *status = -1;
    if (pipe(p) != 0)
        return arena_strdup("");
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return arena_strdup("");
    }
    if (pid == 0) {
        close(p[0]);
        dup2(p[1], 2);
        fn(arg, p[1]);
        _exit(0);
    }
    close(p[1]);
    size_t len = 0, cap = 65536;
    char *buf = malloc(cap);
    for (;;) {
        if (buf && len + 1 == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                break;
            buf = nb;
            cap *= 2;
        }
        char sink[4096];
        ssize_t k = buf ? read(p[0], buf + len, cap - 1 - len) : read(p[0], sink, sizeof sink);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        len += (size_t)k;
    }
    close(p[0]);
    int ws;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
        ;
    *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
    char *text = arena_printf("%.*s", (int)len, buf ? buf : "");
    free(buf);
    return text;
}

/* ---- the target's CPUs and features, as LLVM lists them ---- */

typedef struct Names {
    const char **v;
    int n;
} Names;

typedef struct Choice {
    const char *triple;
    LLVMTargetRef target;
} Choice;

static void print_help(void *arg, int fd) {
    const Choice *c = arg;
    LLVMTargetMachineRef tm = LLVMCreateTargetMachine(c->target, c->triple, "help", "", LLVMCodeGenLevelNone,
                                                      LLVMRelocPIC, LLVMCodeModelDefault);
    if (tm)
        LLVMDisposeTargetMachine(tm);
}

/* The first word of each line of the block under heading in LLVM's help. */
static Names help_section(const char *text, const char *heading) {
    Names out = {NEWA(const char *, 1), 0};
    const char *p = strstr(text, heading);
    if (!p)
        return out;
    p = strchr(p, '\n');
    while (p && *p == '\n')
        p++;
    int cap = 1;
    while (p && *p == ' ') {
        const char *w = p;
        while (*w == ' ')
            w++;
        const char *e = w;
        while (*e && *e != ' ' && *e != '\n')
            e++;
        if (out.n == cap) {
            const char **v = NEWA(const char *, 2 * cap);
            memcpy(v, out.v, sizeof *v * (size_t)out.n);
            out.v = v;
            cap *= 2;
        }
        out.v[out.n++] = arena_printf("%.*s", (int)(e - w), w);
        p = strchr(e, '\n');
        if (p)
            p++;
    }
    return out;
}

static bool in_names(const Names *ns, const char *s) {
    for (int i = 0; i < ns->n; i++)
        if (strcmp(ns->v[i], s) == 0)
            return true;
    return false;
}

static void target_names(const Choice *c, Names *cpus, Names *features) {
    static Names cached_cpus, cached_features;
    static const char *cached_for;
    if (!cached_for || strcmp(cached_for, c->triple) != 0) {
        int status;
        char *text = in_child(print_help, (void *)c, &status);
        cached_cpus = help_section(text, "Available CPUs for this target:");
        cached_features = help_section(text, "Available features for this target:");
        cached_for = arena_strdup(c->triple);
    }
    *cpus = cached_cpus;
    *features = cached_features;
}

/* ---- the probe: can LLVM generate code for this CPU? ---- */

typedef struct Probe {
    const Choice *c;
    const char *cpu, *features;
} Probe;

static int probe_fd = -1;

static void probe_fatal(const char *reason) {
    if (probe_fd >= 0 && write(probe_fd, reason, strlen(reason)) < 0)
        _exit(4);
    _exit(3);
}

/* In the child: a function of the kinds of code nnc generates (float and
 * double arithmetic, a vector, a call to libm) compiled to an object. */
static void run_probe(void *arg, int fd) {
    const Probe *pr = arg;
    probe_fd = fd;
    LLVMInstallFatalErrorHandler(probe_fatal);
    LLVMTargetMachineRef tm = LLVMCreateTargetMachine(pr->c->target, pr->c->triple, pr->cpu, pr->features,
                                                      LLVMCodeGenLevelDefault, LLVMRelocPIC, LLVMCodeModelDefault);
    if (!tm)
        probe_fatal("LLVM cannot create a target machine");
    LLVMContextRef ctx = LLVMContextCreate();
    LLVMModuleRef mod = LLVMModuleCreateWithNameInContext("probe", ctx);
    LLVMSetTarget(mod, pr->c->triple);
    LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
    char *dl = LLVMCopyStringRepOfTargetData(td);
    LLVMSetDataLayout(mod, dl);
    LLVMDisposeMessage(dl);
    LLVMTypeRef f32 = LLVMFloatTypeInContext(ctx), f64 = LLVMDoubleTypeInContext(ctx);
    LLVMTypeRef ptr = LLVMPointerTypeInContext(ctx, 0), v8 = LLVMVectorType(f32, 8);
    LLVMTypeRef params[] = {ptr, ptr};
    LLVMValueRef fn = LLVMAddFunction(mod, "probe", LLVMFunctionType(LLVMVoidTypeInContext(ctx), params, 2, 0));
    LLVMTypeRef expt = LLVMFunctionType(f64, &f64, 1, 0);
    LLVMValueRef exp_fn = LLVMAddFunction(mod, "exp", expt);
    LLVMBuilderRef b = LLVMCreateBuilderInContext(ctx);
    LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(ctx, fn, "entry"));
    LLVMValueRef x = LLVMBuildLoad2(b, v8, LLVMGetParam(fn, 0), "x");
    LLVMBuildStore(b, LLVMBuildFMul(b, x, LLVMBuildFAdd(b, x, x, ""), ""), LLVMGetParam(fn, 0));
    LLVMValueRef d = LLVMBuildLoad2(b, f64, LLVMGetParam(fn, 1), "d");
    LLVMValueRef e = LLVMBuildCall2(b, expt, exp_fn, &d, 1, "");
    LLVMBuildStore(b, LLVMBuildFDiv(b, e, LLVMBuildFPExt(b, LLVMBuildExtractElement(b, x, LLVMConstInt(
                   LLVMInt32TypeInContext(ctx), 0, 0), ""), f64, ""), ""), LLVMGetParam(fn, 1));
    LLVMBuildRetVoid(b);
    char *err = NULL;
    LLVMMemoryBufferRef buf;
    if (LLVMTargetMachineEmitToMemoryBuffer(tm, mod, LLVMObjectFile, &err, &buf))
        probe_fatal(err ? err : "LLVM cannot emit code");
    _exit(0);
}

/* NULL if LLVM compiles the probe for cpu, else why not; *unknown when
 * LLVM does not know the name (which it says, and goes on without it). */
static const char *probe(const Choice *c, const char *cpu, const char *features, bool *unknown) {
    Probe pr = {c, cpu, features};
    int status;
    char *text = in_child(run_probe, &pr, &status);
    *unknown = strstr(text, "is not a recognized processor") != NULL;
    if (*unknown)
        return "not a CPU of this target";
    if (status == 0)
        return NULL;
    /* The reason is the child's last line: LLVM may have warned before. */
    size_t n = strlen(text);
    while (n && text[n - 1] == '\n')
        text[--n] = 0;
    char *last = strrchr(text, '\n');
    const char *why = last ? last + 1 : text;
    if (status < 0)
        return *why ? why : "LLVM crashed";
    return *why ? why : "LLVM cannot generate code";
}

/* ---- choosing the target ---- */

typedef struct Selected {
    bool done;
    unsigned gen;               /* the arena its strings live in */
    const char *for_target, *for_cpu;   /* the options it was chosen for */
    const char *error;          /* why the options cannot be used, or NULL */
    Choice c;
    const char *cpu, *features;
} Selected;

static Selected selected;

static const char *triple_option(const Options *opt) {
    return opt->target ? arena_printf("--target=%s", opt->target)
                       : arena_printf("this machine's target %s", selected.c.triple);
}

/* The host's features that this target knows, as LLVM spells them. */
static const char *known_features(const char *all, const Names *known) {
    const char *s = "";
    char *copy = arena_strdup(all);
    for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ","))
        if ((*tok == '+' || *tok == '-') && (known->n == 0 || in_names(known, tok + 1)))
            s = arena_printf("%s%s%s", s, *s ? "," : "", tok);
    return s;
}

/* ", a CPU of aarch64 (--target=aarch64-linux-gnu)" when cpu belongs to a
 * supported architecture other than the one of LLVM target name, else "". */
static const char *other_arch(const char *cpu, const char *name) {
    for (int i = 0; i < NSUPPORTED; i++) {
        Choice c = {SUPPORTED[i].example, NULL};
        char *err = NULL;
        if (strcmp(name, SUPPORTED[i].llvm_name) == 0 || LLVMGetTargetFromTriple(c.triple, &c.target, &err)) {
            LLVMDisposeMessage(err);
            continue;
        }
        int status;
        Names cpus = help_section(in_child(print_help, &c, &status), "Available CPUs for this target:");
        if (in_names(&cpus, cpu))
            return arena_printf(", but one of %s (--target=%s)", SUPPORTED[i].arch, SUPPORTED[i].example);
    }
    return "";
}

static const char *select_target(const Options *opt) {
    init_llvm();
    Selected *s = &selected;
    if (opt->target && !*opt->target)
        return "--target= needs a triple, e.g. --target=aarch64-linux-gnu";
    char *t = opt->target ? LLVMNormalizeTargetTriple(opt->target) : LLVMGetDefaultTargetTriple();
    s->c.triple = arena_strdup(t);
    LLVMDisposeMessage(t);
    char *err = NULL;
    if (LLVMGetTargetFromTriple(s->c.triple, &s->c.target, &err)) {
        LLVMDisposeMessage(err);
        return arena_printf("%s: no target of LLVM's; nnc generates code for %s", triple_option(opt),
                            supported_list());
    }
    const char *name = LLVMGetTargetName(s->c.target);
    bool supported = false;
    for (int i = 0; i < NSUPPORTED; i++)
        supported |= strcmp(name, SUPPORTED[i].llvm_name) == 0;
    if (!supported)
        return arena_printf("%s: nnc cannot generate code for %s (LLVM's target '%s'); it generates code for %s",
                            triple_option(opt), s->c.triple, name, supported_list());
    LLVMTargetMachineRef tm = LLVMCreateTargetMachine(s->c.target, s->c.triple, "generic", "",
                                                      LLVMCodeGenLevelNone, LLVMRelocPIC, LLVMCodeModelDefault);
    if (!tm)
        return arena_printf("%s: LLVM cannot create a target machine for %s", triple_option(opt), s->c.triple);
    LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
    unsigned psize = LLVMPointerSize(td);
    LLVMDisposeTargetData(td);
    LLVMDisposeTargetMachine(tm);
    if (psize != 8)
        return arena_printf("%s: %s has %u-byte pointers; nnc generates code for 64-bit pointers only, for %s",
                            triple_option(opt), s->c.triple, psize, supported_list());

    s->cpu = "generic";
    s->features = "";
    if (!opt->cpu || strcmp(opt->cpu, "generic") == 0)
        return NULL;
    const char *help = arena_printf("'nnc --cpu=help%s%s' lists them", opt->target ? " --target=" : "",
                                    opt->target ? opt->target : "");
    if (!*opt->cpu)
        return arena_printf("--cpu= needs a name: generic, native, or a CPU of %s (%s)", s->c.triple, help);
    Names cpus = {0}, features = {0};
    bool native = strcmp(opt->cpu, "native") == 0;
    if (native) {
        target_names(&s->c, &cpus, &features);
        char *host = LLVMGetHostCPUName(), *hf = LLVMGetHostCPUFeatures();
        s->cpu = arena_strdup(host);
        s->features = known_features(hf, &features);
        LLVMDisposeMessage(host);
        LLVMDisposeMessage(hf);
    } else {
        s->cpu = opt->cpu;
    }
    /* LLVM's list leaves out aliases (apple-m1 on aarch64): whether it knows
     * the name is what it says when given it. */
    bool unknown;
    const char *why = probe(&s->c, s->cpu, s->features, &unknown);
    if (unknown && native)
        return arena_printf("--cpu=native: this machine's CPU, %s, is not a CPU of %s; name one (%s)", s->cpu,
                            s->c.triple, help);
    if (unknown) {
        target_names(&s->c, &cpus, &features);
        const char *near = nearest_name(s->cpu, cpus.v, cpus.n);
        return arena_printf("--cpu=%s: not a CPU of %s%s%s%s%s; %s", opt->cpu, s->c.triple,
                            near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "",
                            other_arch(s->cpu, name), help);
    }
    if (why)
        return arena_printf("--cpu=%s: LLVM cannot generate code for %s with this CPU (%s); %s", opt->cpu,
                            s->c.triple, why, help);
    return NULL;
}

static bool same_option(const char *a, const char *b) { return a == b || (a && b && strcmp(a, b) == 0); }

/* Chosen once per --target and --cpu (the CPU list and the probe cost a
 * child process each), and again after arena_free_all(), which frees the
 * strings of the choice: a process may compile several models (the fuzzer). */
const char *target_check(const Options *opt) {
    if (!selected.done || selected.gen != arena_generation() ||
        !same_option(selected.for_target, opt->target) || !same_option(selected.for_cpu, opt->cpu)) {
        selected = (Selected){.gen = arena_generation(), .for_target = opt->target, .for_cpu = opt->cpu};
        selected.error = select_target(opt);
        selected.done = true;
    }
    return selected.error;
}

int target_help(const Options *opt) {
    Options o = *opt;
    o.cpu = NULL;
    const char *err = target_check(&o);
    if (err) {
        fprintf(stderr, "nnc: %s\n", err);
        return 2;
    }
    Names cpus, features;
    target_names(&selected.c, &cpus, &features);
    if (!cpus.n) {
        fprintf(stderr, "nnc: LLVM did not list the CPUs of %s\n", selected.c.triple);
        return 1;
    }
    printf("CPUs of %s (LLVM %s) for --cpu=NAME:\n", selected.c.triple, LLVM_VERSION_STRING);
    /* Only those LLVM generates code for: the x86 list also holds 32-bit
     * CPUs, which cannot run x86-64 code. */
    bool unknown;
    for (int i = 0; i < cpus.n; i++)
        if (!probe(&selected.c, cpus.v[i], "", &unknown))
            printf("  %s\n", cpus.v[i]);
    char *host = LLVMGetHostCPUName();
    if (in_names(&cpus, host))
        printf("native: this machine's, %s, with its features\n", host);
    LLVMDisposeMessage(host);
    return 0;
}

/* ---- the target machine ---- */

/* LLVM's fatal errors end the process: the outputs go with it, and the
 * reason is said as an error, not an abort.  Only the command line asks for
 * this (a fuzzer wants the abort). */
static void fatal_error(const char *reason) {
    outputs_abort();
    fflush(stdout);
    fprintf(stderr, "nnc: error: LLVM failed to generate code for %s: ", selected.c.triple ? selected.c.triple : "?");
    for (const char *p = reason; *p; p++)
        fputc((unsigned char)*p >= 0x20 || *p == '\n' ? *p : '?', stderr);
    fprintf(stderr, "\n");
    _exit(1);
}

void target_exit_on_fatal_errors(void) { LLVMInstallFatalErrorHandler(fatal_error); }

LLVMTargetMachineRef target_machine(const Options *opt, int opt_level, char **triple_out) {
    const char *err = target_check(opt);
    if (err) {
        error_plain("%s", err);
        return NULL;
    }
    LLVMCodeGenOptLevel lvl = opt_level == 0 ? LLVMCodeGenLevelNone
                            : opt_level == 1 ? LLVMCodeGenLevelLess
                            : opt_level == 3 ? LLVMCodeGenLevelAggressive : LLVMCodeGenLevelDefault;
    /* Position-independent, so the object links into PIE executables and
     * shared libraries alike. */
    LLVMTargetMachineRef tm = LLVMCreateTargetMachine(selected.c.target, selected.c.triple, selected.cpu,
                                                      selected.features, lvl, LLVMRelocPIC, LLVMCodeModelDefault);
    if (!tm) {
        error_plain("cannot create a target machine for '%s'", selected.c.triple);
        return NULL;
    }
    *triple_out = LLVMCreateMessage(selected.c.triple);
    return tm;
}
