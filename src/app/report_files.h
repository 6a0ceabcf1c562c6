/* The --report files, written when the input ends in the format each name asks for. Each
 * is opened by its path at that moment (written beside it and renamed into place), so a
 * report always lands at the path given, also after logrotate moved an earlier one away. */
#ifndef OP25B_APP_REPORT_FILES_H
#define OP25B_APP_REPORT_FILES_H

#include <stddef.h>

#include "report/report.h"

/* 0, or -1 when any could not be written (each failure said on stderr). */
int write_report_files(const struct report *report, const char *const *paths, size_t count);

#endif
