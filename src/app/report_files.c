#include "app/report_files.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"

int write_report_files(const struct report *report, const char *const *paths, size_t count)
{
    int status = 0;
    for (size_t i = 0; i < count; i++) {
        char error[512];
        if (report_write(report, paths[i], error, sizeof(error)) != 0) {
            log_message(LOG_FAILURE, "%s", error);
            status = -1;
        }
    }
    return status;
}

/* rename(2) in a sticky directory replaces an entry only for the entry's or the
 * directory's owner (or root): the one rule creating a file there does not already test. */
static int check_replaceable(const char *path, char *error, size_t error_size)
{
    struct stat target, directory;
    if (lstat(path, &target) != 0)
        return 0; /* nothing to replace: creating was the test */
    if (S_ISDIR(target.st_mode)) {
        snprintf(error, error_size, "%s is a directory", path);
        return -1;
    }
    char parent[PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t length = slash == NULL ? 0 : slash == path ? 1 : (size_t)(slash - path);
    if (length == 0)
        snprintf(parent, sizeof(parent), ".");
    else
        snprintf(parent, sizeof(parent), "%.*s", (int)length, path);
    uid_t self = geteuid();
    if (stat(parent, &directory) == 0 && (directory.st_mode & S_ISVTX) != 0 && self != 0 &&
        target.st_uid != self && directory.st_uid != self) {
        snprintf(error, error_size,
                 "%s belongs to another user in a sticky directory: it cannot be replaced", path);
        return -1;
    }
    return 0;
}

int report_file_probe(const char *path, char *error, size_t error_size)
{
    char temporary[PATH_MAX];
    if (snprintf(temporary, sizeof(temporary), "%s" REPORT_TEMPORARY_SUFFIX, path) >=
        (int)sizeof(temporary)) {
        snprintf(error, error_size, "%s: path too long", path);
        return -1;
    }
    if (check_replaceable(path, error, error_size) != 0)
        return -1;
    /* An earlier run's temporary file is the writer's to replace: removed, so that the
     * test below is a real creation in the directory. */
    if (unlink(temporary) != 0 && errno != ENOENT) {
        snprintf(error, error_size, "%s: %s", temporary, strerror(errno));
        return -1;
    }
    int fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(error, error_size, "%s: %s", temporary, strerror(errno));
        return -1;
    }
    close(fd);
    if (unlink(temporary) != 0) {
        snprintf(error, error_size, "%s: %s", temporary, strerror(errno));
        return -1;
    }
    return 0;
}
