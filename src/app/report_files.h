/* The --report files, written when the input ends in the format each name asks for. Each
 * is opened by its path at that moment (written beside it and renamed into place), so a
 * report always lands at the path given, also after logrotate moved an earlier one away.
 * That the writer will be able to do so is checked at start-up (report_file_probe). */
#ifndef OP25B_APP_REPORT_FILES_H
#define OP25B_APP_REPORT_FILES_H

#include <stddef.h>

#include "report/report.h"

/* 0, or -1 when any could not be written (each failure said on stderr). */
int write_report_files(const struct report *report, const char *const *paths, size_t count);

/* What writing the report at path at the end will need, tried now by this process: the
 * temporary file created (an earlier run's is removed first) and removed again, and the
 * path free to be replaced (not a directory; in a sticky directory such as /tmp, owned by
 * this user or the directory owned by it). Nothing at path itself is touched. 0, or -1
 * with the reason in error. */
int report_file_probe(const char *path, char *error, size_t error_size);

#endif
