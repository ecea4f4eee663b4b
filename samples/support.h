/*
 * support.h: what the samples share: stopping with a message, finding the
 * data set's files, and drawing PNGs with gnuplot through a pipe.
 */
#ifndef SAMPLES_SUPPORT_H
#define SAMPLES_SUPPORT_H

/* Print "PROG: message" on stderr (after flushing stdout) and exit 1. */
void support_die(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

/* DIR/BASE.gz, or DIR/BASE unzipped, whichever exists (in that order), as
 * a malloc'ed path; NULL, after telling the user how to install the data
 * set, when neither does (prog names the program in the message). */
char *support_data_file(const char *prog, const char *dir, const char *base);

/* gnuplot reads a file name inside '...', where a quote would end the string
 * and a leading '|' would make it a command: 1 if the name holds only
 * letters, digits and ._-/+,=@ and so is safe to pass. */
int plot_safe_name(const char *s);

/* 1 if gnuplot is on PATH. */
int plot_have_gnuplot(void);

#endif
