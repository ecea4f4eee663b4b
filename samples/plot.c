/*
 * plot.c: helpers the samples share to plot with gnuplot (plot.h).
 */
#include "plot.h"

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
