/*
 * header.c: the layout of the generated structs and the C header.
 *
 * The layout is decided here once and used twice: by codegen.c for the
 * byte offsets in the generated code and the descriptor, and by the header
 * for the struct declarations.  Each field is aligned to 64 bytes (contract,
 * section 2) and each struct's size is a multiple of 64, exactly what a C
 * compiler gives for `_Alignas(64)` members; the header re-checks that with
 * static assertions, so a mismatch can never go unnoticed.
 */
#include "nnc.h"

#include <string.h>

/* ---- names that reach C ----
 *
 * Every tensor, dim and state name becomes a struct field, each optimizer
 * buffer a field P_<buffer>, and the model's name (or --prefix) the prefix
 * of every type and function.  The header is compiled as C and as C++,
 * after <stddef.h>, <stdint.h> and <stdio.h> (nnrt.h) and next to whatever
 * else the user's program includes, so a name is refused when it is
 * (docs/guarantees.md, "Names that reach C"):
 *   - a keyword of C (up to C23) or C++, or an <iso646.h> operator word;
 *   - reserved: beginning with '__' or '_' and a capital, or holding '__'
 *     (C++);
 *   - a type or macro of the C library's headers (and POSIX's), by the
 *     tables below, or of the families <stdint.h> (INT or UINT ... _MAX,
 *     _MIN, _WIDTH, _C), <float.h> (FLT_, DBL_, LDBL_) and <inttypes.h>
 *     (PRI or SCN and a small letter) keep for their macros;
 *   - the runtime's (nnrt, nnrt_*, NNRT_*) or the header's own (NNC_*:
 *     NNC_ALIGN64, NNC_STATIC_ASSERT, the include guard). */

static const char *const c_keywords[] = {
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum",
    "extern", "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return",
    "short", "signed", "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void",
    "volatile", "while",
    /* C23 */
    "alignas", "alignof", "bool", "constexpr", "false", "nullptr", "static_assert", "thread_local",
    "true", "typeof", "typeof_unqual"};

static const char *const cxx_keywords[] = {
    "asm", "catch", "char8_t", "char16_t", "char32_t", "class", "co_await", "co_return", "co_yield",
    "concept", "const_cast", "consteval", "constinit", "decltype", "delete", "dynamic_cast", "explicit",
    "export", "friend", "mutable", "namespace", "new", "noexcept", "operator", "private", "protected",
    "public", "reinterpret_cast", "requires", "static_cast", "template", "this", "throw", "try",
    "typeid", "typename", "using", "virtual", "wchar_t",
    /* also <iso646.h> macros in C */
    "and", "and_eq", "bitand", "bitor", "compl", "not", "not_eq", "or", "or_eq", "xor", "xor_eq"};

/* Types and macros of the C library (and POSIX, and GCC's predefined
 * macros in its default GNU modes) that are not in a family below. */
static const struct { const char *name, *header; } c_library[] = {
    {"size_t", "<stddef.h>"}, {"ptrdiff_t", "<stddef.h>"}, {"max_align_t", "<stddef.h>"},
    {"NULL", "<stddef.h>"}, {"offsetof", "<stddef.h>"},
    {"int8_t", "<stdint.h>"}, {"int16_t", "<stdint.h>"}, {"int32_t", "<stdint.h>"}, {"int64_t", "<stdint.h>"},
    {"uint8_t", "<stdint.h>"}, {"uint16_t", "<stdint.h>"}, {"uint32_t", "<stdint.h>"},
    {"uint64_t", "<stdint.h>"}, {"intptr_t", "<stdint.h>"}, {"uintptr_t", "<stdint.h>"},
    {"intmax_t", "<stdint.h>"}, {"uintmax_t", "<stdint.h>"},
    {"FILE", "<stdio.h>"}, {"fpos_t", "<stdio.h>"}, {"va_list", "<stdarg.h>"}, {"off_t", "<stdio.h>"},
    {"ssize_t", "<stdio.h>"}, {"EOF", "<stdio.h>"}, {"BUFSIZ", "<stdio.h>"}, {"L_tmpnam", "<stdio.h>"},
    {"TMP_MAX", "<stdio.h>"}, {"SEEK_SET", "<stdio.h>"}, {"SEEK_CUR", "<stdio.h>"},
    {"SEEK_END", "<stdio.h>"}, {"stdin", "<stdio.h>"}, {"stdout", "<stdio.h>"}, {"stderr", "<stdio.h>"},
    {"P_tmpdir", "<stdio.h>"}, {"L_ctermid", "<stdio.h>"},
    {"EXIT_SUCCESS", "<stdlib.h>"}, {"EXIT_FAILURE", "<stdlib.h>"}, {"MB_CUR_MAX", "<stdlib.h>"},
    {"errno", "<errno.h>"}, {"assert", "<assert.h>"}, {"NDEBUG", "<assert.h>"},
    {"CHAR_BIT", "<limits.h>"}, {"MB_LEN_MAX", "<limits.h>"},
    {"DECIMAL_DIG", "<float.h>"}, {"HUGE_VAL", "<math.h>"}, {"HUGE_VALF", "<math.h>"},
    {"HUGE_VALL", "<math.h>"}, {"INFINITY", "<math.h>"}, {"NAN", "<math.h>"}, {"MATH_ERRNO", "<math.h>"},
    {"MATH_ERREXCEPT", "<math.h>"}, {"math_errhandling", "<math.h>"}, {"isnan", "<math.h>"},
    {"isinf", "<math.h>"}, {"isfinite", "<math.h>"}, {"isnormal", "<math.h>"}, {"signbit", "<math.h>"},
    {"fpclassify", "<math.h>"}, {"M_E", "<math.h>"}, {"M_LOG2E", "<math.h>"}, {"M_LOG10E", "<math.h>"},
    {"M_LN2", "<math.h>"}, {"M_LN10", "<math.h>"}, {"M_PI", "<math.h>"}, {"M_PI_2", "<math.h>"},
    {"M_PI_4", "<math.h>"}, {"M_1_PI", "<math.h>"}, {"M_2_PI", "<math.h>"}, {"M_2_SQRTPI", "<math.h>"},
    {"M_SQRT2", "<math.h>"}, {"M_SQRT1_2", "<math.h>"},
    {"complex", "<complex.h>"}, {"imaginary", "<complex.h>"}, {"I", "<complex.h>"},
    {"noreturn", "<stdnoreturn.h>"}, {"CLOCKS_PER_SEC", "<time.h>"}, {"TIME_UTC", "<time.h>"},
    {"setjmp", "<setjmp.h>"}, {"ONCE_FLAG_INIT", "<threads.h>"},
    {"linux", "GCC's predefined macros"}, {"unix", "GCC's predefined macros"},
};

static bool all_caps(const char *s) {
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

static bool starts(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

static bool ends(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

/* The macros of <errno.h> (POSIX), <signal.h>, <locale.h>, <limits.h>
 * (C and POSIX) and <math.h>'s FP_ ones: a name, then its header. */
static const char *const c_macro_lists[][2] = {
    {"E2BIG EACCES EADDRINUSE EADDRNOTAVAIL EAFNOSUPPORT EAGAIN EALREADY EBADF EBADMSG EBUSY ECANCELED "
     "ECHILD ECONNABORTED ECONNREFUSED ECONNRESET EDEADLK EDESTADDRREQ EDOM EDQUOT EEXIST EFAULT EFBIG "
     "EHOSTUNREACH EIDRM EILSEQ EINPROGRESS EINTR EINVAL EIO EISCONN EISDIR ELOOP EMFILE EMLINK EMSGSIZE "
     "EMULTIHOP ENAMETOOLONG ENETDOWN ENETRESET ENETUNREACH ENFILE ENOBUFS ENODATA ENODEV ENOENT ENOEXEC "
     "ENOLCK ENOLINK ENOMEM ENOMSG ENOPROTOOPT ENOSPC ENOSR ENOSTR ENOSYS ENOTCONN ENOTDIR ENOTEMPTY "
     "ENOTRECOVERABLE ENOTSOCK ENOTSUP ENOTTY ENXIO EOPNOTSUPP EOVERFLOW EOWNERDEAD EPERM EPIPE EPROTO "
     "EPROTONOSUPPORT EPROTOTYPE ERANGE EROFS ESPIPE ESRCH ESTALE ETIME ETIMEDOUT ETXTBSY EWOULDBLOCK EXDEV",
     "<errno.h>"},
    {"SIGABRT SIGALRM SIGBUS SIGCHLD SIGCONT SIGFPE SIGHUP SIGILL SIGINT SIGKILL SIGPIPE SIGQUIT SIGSEGV "
     "SIGSTOP SIGTERM SIGTSTP SIGTTIN SIGTTOU SIGUSR1 SIGUSR2 SIGPOLL SIGPROF SIGSYS SIGTRAP SIGURG "
     "SIGVTALRM SIGXCPU SIGXFSZ SIGWINCH SIGIO SIGPWR SIGSTKFLT SIGRTMIN SIGRTMAX SIG_DFL SIG_ERR SIG_IGN "
     "SIG_HOLD SIG_BLOCK SIG_UNBLOCK SIG_SETMASK", "<signal.h>"},
    {"LC_ALL LC_COLLATE LC_CTYPE LC_MESSAGES LC_MONETARY LC_NUMERIC LC_TIME", "<locale.h>"},
    {"SCHAR_MIN SCHAR_MAX UCHAR_MAX CHAR_MIN CHAR_MAX SHRT_MIN SHRT_MAX USHRT_MAX INT_MIN INT_MAX UINT_MAX "
     "LONG_MIN LONG_MAX ULONG_MAX LLONG_MIN LLONG_MAX ULLONG_MAX SSIZE_MAX PATH_MAX NAME_MAX PIPE_BUF "
     "LINE_MAX ARG_MAX IOV_MAX OPEN_MAX PAGE_SIZE PAGESIZE CHILD_MAX HOST_NAME_MAX LOGIN_NAME_MAX NGROUPS_MAX "
     "RE_DUP_MAX TZNAME_MAX", "<limits.h>"},
    {"SIZE_MAX PTRDIFF_MIN PTRDIFF_MAX SIG_ATOMIC_MIN SIG_ATOMIC_MAX WCHAR_MIN WCHAR_MAX WINT_MIN WINT_MAX",
     "<stdint.h>"},
    {"FILENAME_MAX FOPEN_MAX", "<stdio.h>"},
    {"RAND_MAX", "<stdlib.h>"},
    {"FP_NAN FP_INFINITE FP_ZERO FP_SUBNORMAL FP_NORMAL FP_FAST_FMA FP_FAST_FMAF FP_FAST_FMAL FP_ILOGB0 "
     "FP_ILOGBNAN", "<math.h>"},
};

/* The header whose macro s is, by the lists or the families, or NULL. */
static const char *c_macro(const char *s) {
    size_t n = strlen(s);
    for (size_t i = 0; i < sizeof c_macro_lists / sizeof *c_macro_lists; i++)
        for (const char *p = c_macro_lists[i][0]; (p = strstr(p, s)) != NULL; p += n)
            if ((p == c_macro_lists[i][0] || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0))
                return c_macro_lists[i][1];
    if ((starts(s, "PRI") || starts(s, "SCN")) && ((s[3] >= 'a' && s[3] <= 'z') || s[3] == 'X'))
        return "<inttypes.h>";
    if (!all_caps(s))
        return NULL;
    if ((starts(s, "FLT_") || starts(s, "DBL_") || starts(s, "LDBL_")) && !ends(s, "_"))
        return "<float.h>";
    if ((starts(s, "INT") || starts(s, "UINT")) &&
        (ends(s, "_MAX") || ends(s, "_MIN") || ends(s, "_WIDTH") || ends(s, "_C")))
        return "<stdint.h>";
    return NULL;
}

/* The part of the reason that the prefix and a field share. */
static const char *namespace_problem(const char *s) {
    if ((s[0] == '_' && s[1] == '_') || (s[0] == '_' && s[1] >= 'A' && s[1] <= 'Z'))
        return "names beginning with '__' or '_' and a capital letter are reserved in C";
    if (strcmp(s, "nnrt") == 0 || strcmp(s, "NNRT") == 0 || starts(s, "nnrt_") || starts(s, "NNRT_"))
        return "nnrt, nnrt_ and NNRT_ begin the names of the runtime (nnrt.h)";
    return NULL;
}

const char *c_name_problem(const char *s) {
    const char *why = namespace_problem(s);
    if (why)
        return why;
    for (size_t i = 0; i < sizeof c_keywords / sizeof *c_keywords; i++)
        if (strcmp(s, c_keywords[i]) == 0)
            return "it is a C keyword";
    for (size_t i = 0; i < sizeof cxx_keywords / sizeof *cxx_keywords; i++)
        if (strcmp(s, cxx_keywords[i]) == 0)
            return "it is a C++ keyword (the header is also C++)";
    if (strstr(s, "__"))
        return "names holding '__' are reserved in C++ (the header is also C++)";
    if (starts(s, "NNC_"))
        return "NNC_ begins the generated header's own macros (NNC_ALIGN64, its include guard)";
    for (size_t i = 0; i < sizeof c_library / sizeof *c_library; i++)
        if (strcmp(s, c_library[i].name) == 0)
            return arena_printf("it is a name of %s", c_library[i].header);
    const char *h = c_macro(s);
    if (h)
        return arena_printf("it is a macro of %s", h);
    return NULL;
}

const char *c_prefix_problem(const char *s) {
    const char *why = namespace_problem(s);
    if (why)
        return why;
    if (strstr(s, "__") || (*s && s[strlen(s) - 1] == '_'))
        return arena_printf("the C names %s_params, %s_forward ... would hold '__', which C++ reserves", s, s);
    return NULL;
}

/* Text for a comment of the header: the source's path may hold anything.
 * Bytes that are not printable UTF-8 become \xNN, and * / and / * are
 * split so that the comment cannot end or nest. */
static const char *comment_text(const char *s) {
    size_t n = strlen(s);
    char *out = arena_alloc(4 * n + 1), *q = out;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t k = c >= 0x80 ? utf8_char_len(s + i, n - i) : 1;
        if (c < 0x20 || c == 0x7f || k == 0) {
            q += sprintf(q, "\\x%02x", c);
            i++;
        } else if ((c == '*' && s[i + 1] == '/') || (c == '/' && s[i + 1] == '*')) {
            *q++ = (char)c;
            *q++ = ' ';
            i++;
        } else {
            memcpy(q, s + i, k);
            q += k;
            i += k;
        }
    }
    *q = 0;
    return out;
}

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* An empty struct holds one aligned char, since C has no empty structs. */
static size_t finish(size_t end) { return end ? align64(end) : 64; }

nnrt_role role_struct(nnrt_role r) { return r == NNRT_HYPER || r == NNRT_DIM ? NNRT_INPUT : r; }

/* The state struct (contract, 5.5): seed and step, every state, then each
 * param's optimizer buffers. */
void layout_model(Model *m) {
    size_t end[NNRT_STATE + 1] = {0};
    end[NNRT_STATE] = sizeof(nnrt_state_head);
    for (int i = 0; i < m->ntensors; i++) {
        Tensor *t = &m->tensors[i];
        int s = role_struct(t->role);
        t->size = (size_t)shape_numel(&t->shape) * dtype_size(t->dt);
        t->offset = align64(end[s]);
        end[s] = t->offset + t->size;
    }
    for (int i = 0; i < m->ntensors; i++)
        for (int b = 0; b < m->nbuffers && m->tensors[i].role == NNRT_PARAM; b++) {
            m->tensors[i].buf_offset[b] = align64(end[NNRT_STATE]);
            end[NNRT_STATE] = m->tensors[i].buf_offset[b] + m->tensors[i].size;
        }
    m->params_size = finish(end[NNRT_PARAM]);
    m->inputs_size = finish(end[NNRT_INPUT]);
    m->outputs_size = finish(end[NNRT_OUTPUT]);
    m->state_size = finish(end[NNRT_STATE]);
}

const char *ctype_name(DType dt) {
    switch (dt) {
    case DT_F64: return "double";
    case DT_I32: return "int32_t";
    case DT_I64: return "int64_t";
    case DT_F32: case DT_NONE: break;
    }
    return "float";
}

static void write_field(FILE *f, const char *type, const char *name, const Shape *s) {
    fprintf(f, "    NNC_ALIGN64 %s %s", type, name);
    for (int d = 0; d < s->rank; d++)
        fprintf(f, "[%lld]", (long long)s->d[d]);
    fprintf(f, ";\n");
}

/* The struct of one role (hypers and dims live with the inputs). */
static void write_struct(FILE *f, const Model *m, const char *suffix, nnrt_role role, const char *comment) {
    fprintf(f, "/* %s */\ntypedef struct %s_%s {\n", comment, m->prefix, suffix);
    int n = 0;
    if (role == NNRT_STATE) {
        fprintf(f, "    NNC_ALIGN64 uint64_t seed;\n    uint64_t step;\n");
        n++;
    }
    for (int i = 0; i < m->ntensors; i++) {
        const Tensor *t = &m->tensors[i];
        if (role_struct(t->role) != role)
            continue;
        write_field(f, ctype_name(t->dt), t->name, &t->shape);
        n++;
    }
    for (int i = 0; i < m->ntensors && role == NNRT_STATE; i++)
        for (int b = 0; b < m->nbuffers && m->tensors[i].role == NNRT_PARAM; b++)
            write_field(f, ctype_name(m->tensors[i].dt),
                        arena_printf("%s_%s", m->tensors[i].name, m->optim->buffers[b]), &m->tensors[i].shape);
    if (n == 0)
        fprintf(f, "    NNC_ALIGN64 char unused_;\n");
    fprintf(f, "} %s_%s;\n\n", m->prefix, suffix);
}

static void write_asserts(FILE *f, const Model *m, const char *suffix, nnrt_role role, size_t size) {
    fprintf(f, "NNC_STATIC_ASSERT(sizeof(%s_%s) == %zu, \"%s_%s layout\");\n", m->prefix, suffix, size,
            m->prefix, suffix);
    for (int i = 0; i < m->ntensors; i++) {
        const Tensor *t = &m->tensors[i];
        if (role_struct(t->role) == role)
            fprintf(f, "NNC_STATIC_ASSERT(offsetof(%s_%s, %s) == %zu, \"%s offset\");\n", m->prefix, suffix,
                    t->name, t->offset, t->name);
        for (int b = 0; b < m->nbuffers && role == NNRT_STATE && t->role == NNRT_PARAM; b++)
            fprintf(f, "NNC_STATIC_ASSERT(offsetof(%s_%s, %s_%s) == %zu, \"%s_%s offset\");\n", m->prefix,
                    suffix, t->name, m->optim->buffers[b], t->buf_offset[b], t->name, m->optim->buffers[b]);
    }
}

static void write_body(FILE *f, const Model *m, const char *guard) {
    const char *n = m->prefix;
    fprintf(f, "/* Generated by nnc from %s (model %s); do not edit. */\n", comment_text(m->path),
            comment_text(m->name));
    fprintf(f, "#ifndef %s\n#define %s\n\n", guard, guard);
    fprintf(f, "#include <stddef.h>\n#include <stdint.h>\n#include <nnrt.h>\n\n");
    fprintf(f, "#ifndef NNC_ALIGN64\n#ifdef __cplusplus\n#define NNC_ALIGN64 alignas(64)\n"
               "#define NNC_STATIC_ASSERT static_assert\n#else\n#define NNC_ALIGN64 _Alignas(64)\n"
               "#define NNC_STATIC_ASSERT _Static_assert\n#endif\n#endif\n\n");
    fprintf(f, "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
    fprintf(f, "#if NNRT_ABI_VERSION != 2\n#error \"%s.h needs nnrt.h of ABI version 2\"\n#endif\n\n", n);
    write_struct(f, m, "params", NNRT_PARAM, "Every param; the gradient struct has the same layout.");
    write_struct(f, m, "inputs", NNRT_INPUT,
                 "Every input, hyper and runtime dim, in declaration order; a dim is the\n"
                 " * extent in use of its axis, from 1 to its MAX (set_defaults sets MAX).");
    write_struct(f, m, "outputs", NNRT_OUTPUT, "Every output and the objective.");
    write_struct(f, m, "state", NNRT_STATE,
                 "seed and step, every state, then each param's optimizer buffers; init sets it.");
    write_asserts(f, m, "params", NNRT_PARAM, m->params_size);
    write_asserts(f, m, "inputs", NNRT_INPUT, m->inputs_size);
    write_asserts(f, m, "outputs", NNRT_OUTPUT, m->outputs_size);
    write_asserts(f, m, "state", NNRT_STATE, m->state_size);
    fprintf(f, "\nextern const nnrt_model %s_model;\n\n", n);
    fprintf(f, "/* Params and states from their initializers (drawing from seed), the\n"
               " * optimizer buffers zeroed, s->seed = seed, s->step = 0. */\n"
               "void %s_init(%s_params *p, %s_state *s, uint64_t seed);\n", n, n, n);
    fprintf(f, "/* Every hyper to its default, every dim to its MAX. */\nvoid %s_set_defaults(%s_inputs *in);\n", n, n);
    fprintf(f, "/* Evaluation mode: the outputs and the objective.  workspace:\n"
               " * %s_model.workspace_size bytes, 64-byte aligned.  Returns 0 or an NNRT_E*\n"
               " * code (a dim outside [1, MAX], a label out of range), writing nothing then. */\n", n);
    fprintf(f, "int %s_forward(const %s_params *p, const %s_state *s, const %s_inputs *in,\n"
               "    %s_outputs *out, void *workspace);\n", n, n, n, n, n);
    fprintf(f, "/* Training mode: the outputs, the objective and its gradient for every param. */\n");
    fprintf(f, "int %s_backward(const %s_params *p, %s_state *s, const %s_inputs *in, %s_outputs *out,\n"
               "    %s_params *grad, void *workspace);\n", n, n, n, n, n, n);
    if (m->has_optimizer) {
        fprintf(f, "/* One optimizer step from the gradients grad; s->step += 1. */\n");
        fprintf(f, "int %s_update(%s_params *p, %s_state *s, const %s_params *grad, const %s_inputs *in);\n",
                n, n, n, n, n);
        fprintf(f, "/* backward then update, fused; out gets the values before the update. */\n");
        fprintf(f, "int %s_train_step(%s_params *p, %s_state *s, const %s_inputs *in, %s_outputs *out,\n"
                   "    void *workspace);\n", n, n, n, n, n);
    }
    fprintf(f, "\n#ifdef __cplusplus\n}\n#endif\n#endif\n");
}

bool write_header(const Model *m, const char *path) {
    /* The prefix as it is: mlp and MLP are two models, with two guards. */
    char *guard = arena_printf("NNC_%s_H", m->prefix);
    FILE *f = output_open(path);
    if (!f)
        return false;
    write_body(f, m, guard);
    return output_close(f, path);
}
