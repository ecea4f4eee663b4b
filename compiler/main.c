/*
 * main.c: the nnc command line, and the pipeline in one function.
 *
 *   nnc [options] FILE.nn     (contract, section 4)
 *
 * Exit status: 0 on success, 1 when the input has errors, 2 for a usage
 * error.  Outputs are committed only when everything succeeded.
 */
#include "nnc.h"

#include <ctype.h>
#include <errno.h>
#include <llvm/Config/llvm-config.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NNC_VERSION "0.1.0"

static const char usage_text[] =
    "usage: nnc [options] FILE.nn\n"
    "\n"
    "Compile a model to an object file and a C header (contract: nnc-spec.md).\n"
    "\n"
    "  -o FILE            output (default: FILE.o beside the input); - is standard output\n"
    "  -H FILE            where the header goes (default: the output with .h)\n"
    "  --emit=LIST        what to write, from obj,header,llvm,asm,dot,ir (default obj,header);\n"
    "                     the first of obj, asm, llvm, ir, dot takes -o, the others its stem\n"
    "  -S                 the same as --emit=asm\n"
    "  -O0 .. -O3         optimization level (default -O2)\n"
    "  -D NAME=VALUE      override a const\n"
    "  -I DIR             search DIR for imported files (after the importer's folder)\n"
    "  --dtype=f64        compile every f32 as f64 (for gradient checks)\n"
    "  --target=TRIPLE    cross-compile for x86_64 or aarch64 (default: the host)\n"
    "  --cpu=NAME         compile for one CPU; native: this machine's (default: for any\n"
    "                     CPU of the target; on x86-64 the entry points, products and\n"
    "                     large kernels for three levels, the best chosen at run time);\n"
    "                     --cpu=help lists the target's CPUs\n"
    "  -MD                write a make dependency file (the output with .d)\n"
    "  -MF FILE           write the dependency file to FILE\n"
    "  --prefix=NAME      prefix the C symbols with NAME instead of the model's name, which\n"
    "                     the descriptor keeps (two builds of one model in one program)\n"
    "  --stats            print FLOPs, bytes moved, parameter bytes and the workspace plan\n"
    "  --time             print how long each phase of the compile took (on stderr)\n"
    "  --max-work=N       allow N steps of compile-time work: unrolled loops, inlined\n"
    "                     calls, imports (default 10000000)\n"
    "  --gradcheck        compile in float64 in memory and check every param's gradient\n"
    "                     against central differences; prints a table, exits 1 if one is off\n"
    "                     or untested (every sampled derivative 0)\n"
    "  --gradcheck-inputs=DIR  take each input NAME from DIR/NAME.idx (IDX, gzipped or\n"
    "                     not) instead of drawing it\n"
    "  --gradcheck-allow-untested  report untested params without failing\n"
    "  --version          print the version\n"
    "  --help             print this help\n";

static void usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, "nnc: ");
    fputs_clean(arena_printf(fmt, arg), stderr);
    fprintf(stderr, "\n(run 'nnc --help' for the options)\n");
    exit(2);
}

static const char *stem_with(const char *path, const char *ext) {
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    size_t n = dot && (!slash || dot > slash) ? (size_t)(dot - path) : strlen(path);
    return arena_printf("%.*s%s", (int)n, path, ext);
}

static bool is_identifier(const char *s) {
    if (!(isalpha((unsigned char)*s) || *s == '_'))
        return false;
    while (*++s)
        if (!(isalnum((unsigned char)*s) || *s == '_'))
            return false;
    return true;
}

static void add_define(Options *o, const char *arg) {
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        usage_error("-D needs NAME=VALUE, got '%s'", arg);
    char *end;
    errno = 0;
    long long v = strtoll(eq + 1, &end, 0);
    if (*end || end == eq + 1 || errno || v < INT32_MIN || v > INT32_MAX)
        usage_error("-D %s: the value must be an integer", arg);
    Define *d = NEWA(Define, o->ndefines + 1);
    if (o->ndefines)
        memcpy(d, o->defines, sizeof(Define) * (size_t)o->ndefines);
    d[o->ndefines] = (Define){arena_printf("%.*s", (int)(eq - arg), arg), v, false};
    o->defines = d;
    o->ndefines++;
}

static unsigned parse_emit(const char *list) {
    static const char *const names[NEMIT] = {"obj", "header", "llvm", "asm", "dot", "ir", "plan"};
    unsigned bits = 0;
    char *s = arena_strdup(list);
    for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
        int k = -1;
        for (int i = 0; i < NEMIT; i++)
            if (strcmp(tok, names[i]) == 0)
                k = i;
        if (k < 0)
            usage_error("--emit: unknown kind '%s' (obj, header, llvm, asm, dot, ir, plan)", tok);
        bits |= 1u << k;
    }
    if (!bits)
        usage_error("--emit needs a list, e.g. --emit=obj,header%s", "");
    return bits;
}

/* A character device such as /dev/null: written in place, and a sink for
 * every output named after it.  Standard output ("-", /dev/stdout, even on
 * a terminal) is not one: it takes one output (output_paths). */
static bool is_device(const char *path) {
    struct stat st;
    return output_stream_fd(path) < 0 && stat(path, &st) == 0 && S_ISCHR(st.st_mode);
}

/* What each output is, in messages; the dependency file last. */
static const char *const output_what[NEMIT + 1] = {"the object", "the header", "the LLVM IR", "the assembly",
                                                   "the graph", "the IR text", "the plan", "the dependency file"};

/* Another output would be named after -o's stream ("-.h"): a usage error. */
static void one_output_to_stream(const char *out, const char *what, const char *fix) {
    usage_error("%s", arena_printf("-o %s writes to an open stream, which takes one output, and %s would go "
                                   "there too: %s", out, what, fix));
}

/* Where each requested output goes: -o names the first of obj, asm, llvm,
 * ir, dot, plan; the others take its stem with their own extension (with
 * -o /dev/null, /dev/null too). */
static void output_paths(Options *o, unsigned emit, const char *out, const char *header, bool md) {
    bool sink = out && is_device(out), stream = out && output_stream_fd(out) >= 0;
    static const int order[] = {EMIT_OBJ, EMIT_ASM, EMIT_LLVM, EMIT_IR, EMIT_DOT, EMIT_PLAN};
    static const char *const ext[NEMIT] = {".o", ".h", ".ll", ".s", ".dot", ".ir", ".plan"};
    const char *primary = NULL;
    for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
        int k = order[i];
        if (!(emit & (1u << k)))
            continue;
        if (!primary)
            primary = o->path[k] = out ? out : stem_with(o->input, ext[k]);
        else if (stream)
            one_output_to_stream(out, output_what[k], "ask --emit for one kind");
        else
            o->path[k] = sink ? primary : stem_with(primary, ext[k]);
    }
    if (!primary)
        primary = out ? out : stem_with(o->input, ".o");
    if ((emit & (1u << EMIT_HEADER)) && !header && stream)
        one_output_to_stream(out, output_what[EMIT_HEADER], "name it with -H FILE, or leave it out of --emit");
    if (md && !o->depfile && stream)
        one_output_to_stream(out, output_what[NEMIT], "name it with -MF FILE");
    if (emit & (1u << EMIT_HEADER))
        o->path[EMIT_HEADER] = header ? header : sink ? primary : stem_with(primary, ".h");
    if (md && !o->depfile)
        o->depfile = sink ? primary : stem_with(primary, ".d");
}

static const char *file_arg(const char *opt, const char *arg) {
    if (!*arg)
        usage_error("%s needs a file name, not ''", opt);
    return arg;
}

/* "-o m.nn", or "the header m.h" for a name nnc chose. */
static const char *describe_output(const Options *o, int k, const char *out, const char *header, bool mf) {
    const char *path = k < NEMIT ? o->path[k] : o->depfile;
    const char *opt = k == NEMIT ? (mf ? "-MF" : NULL) : k == EMIT_HEADER ? (header ? "-H" : NULL)
                    : path == out ? "-o" : NULL;
    return opt ? arena_printf("%s %s", opt, path) : arena_printf("%s %s", output_what[k], path);
}

/* The outputs are a set of distinct files, none of them the input
 * (docs/guarantees.md): a clash is a usage error, found before anything is
 * compiled or written.  Names are compared with their folders resolved,
 * and existing files by device and inode too (a hard link, a symbolic
 * link to the input). */
static void check_outputs(const Options *o, const char *out, const char *header, bool mf) {
    for (int k = 0; k <= NEMIT; k++) {
        const char *p = k < NEMIT ? o->path[k] : o->depfile;
        if (!p)
            continue;
        if (same_file(p, o->input))
            usage_error("%s", arena_printf("%s would overwrite the input file %s",
                                           describe_output(o, k, out, header, mf), o->input));
        for (int j = 0; j < k; j++) {
            const char *q = j < NEMIT ? o->path[j] : o->depfile;
            if (q && same_file(p, q) && !is_device(p))
                usage_error("%s are the same file", arena_printf("%s and %s", describe_output(o, j, out, header, mf),
                                                                 describe_output(o, k, out, header, mf)));
        }
    }
}

static Options parse_args(int argc, char **argv) {
    Options o = {.opt_level = 2};
    unsigned emit = (1u << EMIT_OBJ) | (1u << EMIT_HEADER);
    const char *out = NULL, *header = NULL;
    bool md = false, mf = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
#define NEXT() (i + 1 < argc ? argv[++i] : (usage_error("%s needs an argument", a), ""))
        if (strcmp(a, "--help") == 0) {
            fputs(usage_text, stdout);
            exit(0);
        } else if (strcmp(a, "--version") == 0) {
            printf("nnc " NNC_VERSION " (LLVM " LLVM_VERSION_STRING ")\n");
            exit(0);
        } else if (strcmp(a, "-o") == 0) {
            out = file_arg(a, NEXT());
        } else if (strcmp(a, "-H") == 0) {
            header = file_arg(a, NEXT());
        } else if (strncmp(a, "--emit=", 7) == 0) {
            emit = parse_emit(a + 7);
        } else if (strcmp(a, "-S") == 0) {
            emit = 1u << EMIT_ASM;
        } else if (a[0] == '-' && a[1] == 'O' && a[2] >= '0' && a[2] <= '3' && !a[3]) {
            o.opt_level = a[2] - '0';
        } else if (strcmp(a, "-D") == 0) {
            add_define(&o, NEXT());
        } else if (strncmp(a, "-D", 2) == 0) {
            add_define(&o, a + 2);
        } else if (strcmp(a, "-I") == 0 || (strncmp(a, "-I", 2) == 0 && a[2])) {
            const char *dir = a[2] ? a + 2 : NEXT();
            const char **dirs = NEWA(const char *, o.ninclude_dirs + 1);
            if (o.ninclude_dirs)
                memcpy(dirs, o.include_dirs, sizeof(char *) * (size_t)o.ninclude_dirs);
            dirs[o.ninclude_dirs++] = dir;
            o.include_dirs = dirs;
        } else if (strcmp(a, "--dtype=f64") == 0) {
            o.force_f64 = true;
        } else if (strcmp(a, "--dtype=f32") == 0) {
            o.force_f64 = false;
        } else if (strncmp(a, "--target=", 9) == 0) {
            o.target = a + 9;
        } else if (strncmp(a, "--cpu=", 6) == 0) {
            o.cpu = a + 6;
        } else if (strcmp(a, "-MD") == 0) {
            md = true;
        } else if (strcmp(a, "-MF") == 0) {
            o.depfile = file_arg(a, NEXT());
            mf = true;
        } else if (strcmp(a, "--gradcheck") == 0) {
            o.gradcheck = true;
            o.force_f64 = true;
        } else if (strncmp(a, "--gradcheck-inputs=", 19) == 0 && a[19]) {
            o.gradcheck_inputs = a + 19;
        } else if (strcmp(a, "--gradcheck-allow-untested") == 0) {
            o.gradcheck_allow_untested = true;
        } else if (strncmp(a, "--prefix=", 9) == 0) {
            o.prefix = a + 9;
            if (!is_identifier(o.prefix))
                usage_error("--prefix=%s: not a C identifier", o.prefix);
            if (c_prefix_problem(o.prefix))
                usage_error("%s", arena_printf("--prefix=%s: %s", o.prefix, c_prefix_problem(o.prefix)));
        } else if (strcmp(a, "--stats") == 0) {
            o.stats = true;
        } else if (strcmp(a, "--time") == 0) {
            o.time = true;
        } else if (strncmp(a, "--max-work=", 11) == 0) {
            char *end;
            errno = 0;
            long long v = strtoll(a + 11, &end, 10);
            if (!a[11] || *end || errno || v < 1)
                usage_error("--max-work=%s: the limit must be a positive integer", a + 11);
            o.max_work = v;
        } else if (a[0] == '-' && a[1]) {
            usage_error("unknown option '%s'", a);
        } else if (o.input) {
            usage_error("one model file at a time (got '%s' too)", a);
        } else {
            o.input = a;
        }
#undef NEXT
    }
    if (o.cpu && strcmp(o.cpu, "help") == 0)
        exit(target_help(&o));
    if (!o.input)
        usage_error("no input file%s", "");
    if ((o.gradcheck_inputs || o.gradcheck_allow_untested) && !o.gradcheck)
        usage_error("%s: only with --gradcheck", o.gradcheck_inputs ? "--gradcheck-inputs" : "--gradcheck-allow-untested");
    output_paths(&o, emit, out, header, md);
    if (!o.gradcheck)
        check_outputs(&o, out, header, mf);
    return o;
}

/* A path as make reads it: spaces and # escaped, $ doubled. */
static void put_make_path(FILE *f, const char *p) {
    for (; *p; p++) {
        if (*p == ' ' || *p == '#')
            fputc('\\', f);
        else if (*p == '$')
            fputc('$', f);
        fputc(*p, f);
    }
}

/* As cc -MD -MP: the outputs depend on the model and every file it
 * imports, and each import gets an empty rule so deleting one is no error. */
static bool write_depfile(const Options *o, const Model *m) {
    FILE *f = output_open(o->depfile);
    if (!f)
        return false;
    for (int k = 0; k < NEMIT; k++)
        if (o->path[k]) {
            put_make_path(f, o->path[k]);
            fputc(' ', f);
        }
    fprintf(f, ": ");
    put_make_path(f, o->input);
    for (int i = 0; i < m->nimports; i++) {
        fprintf(f, " \\\n  ");
        put_make_path(f, m->imports[i]);
    }
    fprintf(f, "\n");
    for (int i = 0; i < m->nimports; i++) {
        fprintf(f, "\n");
        put_make_path(f, m->imports[i]);
        fprintf(f, ":\n");
    }
    return output_close(f, o->depfile);
}

static void print_stats(const Model *m, const Stats *s) {
    size_t pbytes = 0;
    for (int i = 0; i < m->ntensors; i++)
        if (m->tensors[i].role == NNRT_PARAM)
            pbytes += m->tensors[i].size;
    static const char *const names[3] = {"forward", "backward", "train_step"};
    printf("model %s\n", m->name);
    printf("  parameter bytes    %zu (struct %zu)\n", pbytes, m->params_size);
    for (int k = 0; k < 3; k++) {
        if (k == 2 && !m->has_optimizer)
            continue;
        printf("  %-10s  %.4g MFLOP, %.4g MB moved, workspace %zu bytes (%zu without reuse)\n", names[k],
               s->flops[k] / 1e6, s->bytes[k] / 1e6, s->workspace[k], s->workspace_noreuse[k]);
    }
}

/* The pipeline: parse, check and elaborate, differentiate, lay out, then
 * plan, lower and emit; outputs are committed only if all succeeded. */
static int compile(const Options *opt) {
    Source *src = source_read(opt->input);
    if (!src)
        return 1;
    Stmt *prog = parse_source(src);
    if (diag_errors)
        return 1;
    Model *m = sema_model(prog, src, opt);
    if (diag_errors)
        return 1;
    for (int i = 0; i < m->nimports && !opt->gradcheck; i++)
        for (int k = 0; k <= NEMIT; k++) {
            const char *p = k < NEMIT ? opt->path[k] : opt->depfile;
            if (p && same_file(p, m->imports[i])) {
                fputs_clean(arena_printf("nnc: the output %s would overwrite %s, which the model imports\n", p,
                                         m->imports[i]), stderr);
                return 2;
            }
        }
    autodiff(m);
    layout_model(m);
    if (opt->gradcheck)
        return gradcheck_jit(m, opt);
    Stats stats = {0};
    bool ok = codegen(m, opt, &stats);
    phase_enter(PH_OUTPUT);
    if (ok && opt->path[EMIT_HEADER])
        ok = write_header(m, opt->path[EMIT_HEADER]);
    if (ok && opt->depfile)
        ok = write_depfile(opt, m);
    if (ok && opt->stats)
        print_stats(m, &stats);
    if (!ok || diag_errors) {
        outputs_abort();
        return 1;
    }
    return outputs_commit() ? 0 : 1;
}

/* Each output's temporary, created before anything is compiled: a folder
 * that cannot be written is said at once. */
static bool begin_outputs(const Options *o) {
    if (o->gradcheck)
        return true;
    for (int k = 0; k < NEMIT; k++)
        if (o->path[k] && !output_begin(o->path[k]))
            return false;
    return !o->depfile || output_begin(o->depfile);
}

int main(int argc, char **argv) {
    phase_enter(PH_FRONT);
    Options opt = parse_args(argc, argv);
    /* --gradcheck runs on this machine, whatever --target says. */
    Options host = opt;
    if (opt.gradcheck)
        host.target = NULL;
    const char *bad_target = target_check(&host);
    if (bad_target)
        usage_error("%s", bad_target);
    target_exit_on_fatal_errors();
    int rc = begin_outputs(&opt) ? compile(&opt) : 1;
    if (rc)
        outputs_abort();
    arena_free_all();
    if (opt.time)
        phase_report(stderr);
    return rc;
}
