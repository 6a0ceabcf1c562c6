/* --workers with --spool: a spool is one process's (it is locked), so each worker keeps
 * its own inside the directory given, DIR/worker-N. */
#ifndef OP25B_APP_WORKER_SPOOL_H
#define OP25B_APP_WORKER_SPOOL_H

#include <stddef.h>

/* DIR/worker-N into path; -1 (errno ENAMETOOLONG) when it does not fit. */
int worker_spool_path(const char *spool, int worker, char *path, size_t size);

/* Segments left in the spool of a worker this run does not start would wait unseen: each
 * such spool is named in a warning. workers: how many this run starts (0 or 1: none). */
void warn_unused_worker_spools(const char *spool, unsigned workers);

#endif
