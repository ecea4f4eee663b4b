/*
 * plot.h: what the samples share to draw PNGs with gnuplot through a pipe.
 */
#ifndef SAMPLES_PLOT_H
#define SAMPLES_PLOT_H

/* gnuplot reads a file name inside '...', where a quote would end the string
 * and a leading '|' would make it a command: 1 if the name holds only
 * letters, digits and ._-/+,=@ and so is safe to pass. */
int plot_safe_name(const char *s);

/* 1 if gnuplot is on PATH. */
int plot_have_gnuplot(void);

#endif
