#include "app/worker_spool.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "app/options.h"
#include "util/log.h"

int worker_spool_path(const char *spool, int worker, char *path, size_t size)
{
    int length = snprintf(path, size, "%s/worker-%d", spool, worker);
    if (length < 0 || (size_t)length >= size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

static bool holds_segments(const char *path)
{
    DIR *directory = opendir(path);
    if (directory == NULL)
        return false;
    bool held = false;
    for (struct dirent *entry; !held && (entry = readdir(directory)) != NULL;) {
        size_t length = strlen(entry->d_name);
        held = length > 4 && strcmp(entry->d_name + length - 4, ".seg") == 0;
    }
    closedir(directory);
    return held;
}

void warn_unused_worker_spools(const char *spool, unsigned workers)
{
    for (int worker = workers > 1 ? (int)workers : 0; worker < WORKERS_MAX; worker++) {
        char path[PATH_MAX];
        if (worker_spool_path(spool, worker, path, sizeof(path)) != 0)
            return;
        /* An error, so that -q keeps it: those events reach nobody until then. */
        if (holds_segments(path))
            log_message(LOG_ERROR,
                        "%s holds events of an earlier run's worker %d; they are sent by a run "
                        "with --workers %d or more",
                        path, worker, worker + 1 > 2 ? worker + 1 : 2);
    }
}
