/*
 * support.c: helpers the samples share (support.h).
 */
#include "support.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int plot_safe_name(const char *s)
{
    if (!*s || *s == '|')
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')
              || strchr("._-/+,=@", *s)))
            return 0;
    return 1;
}

int plot_have_gnuplot(void)
{
    const char *path = getenv("PATH");
    char buf[4096];
    while (path && *path) {
        size_t len = strcspn(path, ":");
        if (len > 0 && len + sizeof "/gnuplot" < sizeof buf) {
            snprintf(buf, sizeof buf, "%.*s/gnuplot", (int)len, path);
            if (access(buf, X_OK) == 0)
                return 1;
        }
        path += len;
        if (*path == ':')
            path++;
    }
    return 0;
}

void support_die(const char *prog, const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

char *support_data_file(const char *prog, const char *dir, const char *base)
{
    static const char *const ext[] = { ".gz", "" };
    for (int k = 0; k < 2; k++) {
        size_t len = strlen(dir) + strlen(base) + 5;
        char *path = malloc(len);
        if (!path)
            return NULL;
        snprintf(path, len, "%s/%s%s", dir, base, ext[k]);
        if (access(path, F_OK) == 0)
            return path;
        free(path);
    }
    fprintf(stderr,
            "%s: no Fashion-MNIST data in %s (%s[.gz] is missing)\n"
            "  install Debian's package:  apt-get install dataset-fashion-mnist\n"
            "  or point --data at a folder with train-images-idx3-ubyte.gz, "
            "train-labels-idx1-ubyte.gz,\n  t10k-images-idx3-ubyte.gz and "
            "t10k-labels-idx1-ubyte.gz (gzipped or not)\n", prog, dir, base);
    return NULL;
}
