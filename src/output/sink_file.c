/* NDJSON events to a file or standard output. Lines are gathered in a buffer of whole lines
 * and written with write(2), so the sink always knows which lines went out: when the disk
 * refuses a write, exactly the lines it did not take are counted lost, and a regular file
 * is cut back to its last whole line.
 *
 * Whole lines or nothing, in each mode:
 * - alone (one process): a short write followed by a failure leaves part of a line at the
 *   end; the file is truncated back by that part. Nobody else writes the file, so its end
 *   is where this process's last byte went (checked: if the size says otherwise, as when
 *   something else appends to it, nothing is cut and the message says so).
 * - shared (--workers appending to one file): each batch is written under an exclusive
 *   flock(2) of the file, so no other worker appends between a short write and the cut;
 *   the cut takes exactly this worker's part line, never another's. (Each batch is one
 *   write(2) appending, which lands whole anyway while the disk has room.)
 * - a pipe, a terminal or a device cannot be cut: what went out stays; on a pipe the
 *   usual failure is a reader that has gone, which reads nothing more anyway. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "output/sink.h"

/* Events are small lines; a large batch turns them into few system calls. */
#define BATCH_BYTES (1024 * 1024)
/* Shared by workers and appended to: a write(2) appending to a file lands whole. */
#define SHARED_FILE_BATCH_BYTES (256 * 1024)

struct file_sink {
    struct sink base;
    int fd;
    bool is_stdout;
    bool shared;  /* other processes append to the same file */
    bool regular; /* a regular file: a failed write is cut back to the last whole line */
    bool failed;  /* a write failed: said once, then every further line is counted lost */
    uint64_t lost;
    char *batch;
    size_t batch_size;
    size_t pending; /* bytes of whole lines in batch */
};

static void note_failure(struct file_sink *file)
{
    if (!file->failed)
        log_message(LOG_ERROR, "writing events to %s: %s", file->base.name, strerror(errno));
    file->failed = true;
    /* SIGPIPE is ignored, so a closed pipe shows here: nothing more can go out. */
    if (errno == EPIPE)
        file->base.reader_gone = true;
}

static uint64_t count_lines(const char *bytes, size_t length)
{
    uint64_t lines = 0;
    for (const char *end = bytes + length; (bytes = memchr(bytes, '\n', (size_t)(end - bytes)));
         bytes++)
        lines++;
    return lines;
}

/* After a failed write: the `partial` bytes of a line that went out before it are cut
 * away, so that the file ends with its last whole line. The file's end must be where this
 * process's last byte went (the offset after a write, O_APPEND or not). */
static void cut_partial_line(struct file_sink *file, size_t partial)
{
    if (partial == 0 || !file->regular)
        return;
    off_t end = lseek(file->fd, 0, SEEK_CUR);
    struct stat status;
    if (end < (off_t)partial || fstat(file->fd, &status) != 0 || status.st_size != end) {
        log_message(LOG_ERROR, "%s: another writer: part of a line is left at its end",
                    file->base.name);
        return;
    }
    if (ftruncate(file->fd, end - (off_t)partial) != 0)
        log_message(LOG_ERROR, "%s: cannot cut part of a line from its end: %s", file->base.name,
                    strerror(errno));
}

/* Writes bytes (whole lines); on failure counts the lines not wholly written as lost and
 * cuts the file back to its last whole line. Shared, under the file's lock. */
static int write_lines(struct file_sink *file, const char *bytes, size_t length)
{
    bool locked = file->shared && file->regular && flock(file->fd, LOCK_EX) == 0;
    size_t done = 0;
    int status = 0;
    while (done < length) {
        ssize_t written = write(file->fd, bytes + done, length - done);
        if (written < 0 && errno == EINTR)
            continue;
        if (written <= 0) {
            if (written == 0)
                errno = EIO;
            note_failure(file);
            const char *last = done > 0 ? memrchr(bytes, '\n', done) : NULL;
            size_t whole = last != NULL ? (size_t)(last - bytes) + 1 : 0;
            cut_partial_line(file, done - whole);
            file->lost += count_lines(bytes + whole, length - whole);
            status = -1;
            break;
        }
        done += (size_t)written;
    }
    if (locked)
        flock(file->fd, LOCK_UN);
    return status;
}

static int file_flush(struct sink *sink)
{
    struct file_sink *file = (struct file_sink *)sink;
    size_t pending = file->pending;
    file->pending = 0;
    return pending == 0 ? 0 : write_lines(file, file->batch, pending);
}

static int file_write(struct sink *sink, const struct event_line *line)
{
    struct file_sink *file = (struct file_sink *)sink;
    if (file->failed) {
        file->lost++;
        return -1;
    }
    if (file->pending + line->length > file->batch_size && file_flush(sink) != 0) {
        file->lost++;
        return -1;
    }
    /* Longer than a batch (only a pipe's PIPE_BUF batch is that short): on its own. */
    if (line->length > file->batch_size)
        return write_lines(file, line->text, line->length);
    memcpy(file->batch + file->pending, line->text, line->length);
    file->pending += line->length;
    return 0;
}

static uint64_t file_close(struct sink *sink)
{
    struct file_sink *file = (struct file_sink *)sink;
    if (!file->failed)
        file_flush(sink);
    if (!file->is_stdout && close(file->fd) != 0 && !file->failed) {
        log_message(LOG_ERROR, "closing %s: %s", sink->name, strerror(errno));
        file->lost++;
    }
    uint64_t lost = file->lost;
    free(file->batch);
    free((char *)sink->name);
    free(file);
    return lost;
}

/* Opened again without O_TRUNC: after logrotate's copytruncate, or a SIGHUP with nothing
 * moved, the lines go on at the end. O_NONBLOCK only for the open, so a FIFO without a
 * reader fails at once instead of holding the sensor up. */
static int file_reopen(struct sink *sink)
{
    struct file_sink *file = (struct file_sink *)sink;
    if (file->is_stdout)
        return 0;
    if (!file->failed)
        file_flush(sink); /* whole lines to the old file; a failure is counted there */
    int fd = open(sink->name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NONBLOCK, 0666);
    int flags = fd >= 0 ? fcntl(fd, F_GETFL) : -1;
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        log_message(LOG_ERROR, "re-opening %s: %s; events go on to the file already open",
                    sink->name, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (close(file->fd) != 0 && !file->failed) {
        log_message(LOG_ERROR, "closing %s: %s", sink->name, strerror(errno));
        file->lost++;
    }
    file->fd = fd;
    struct stat status;
    file->regular = fstat(fd, &status) == 0 && S_ISREG(status.st_mode);
    file->failed = false; /* a new file: what failed on the old one may work here */
    log_message(LOG_INFO, "re-opened %s", sink->name);
    return 0;
}

static const struct sink_ops file_ops = {file_write, file_flush, file_close, NULL, file_reopen};

struct sink *sink_file_open(const char *path, bool shared, char *error, size_t error_size)
{
    struct file_sink *file = calloc(1, sizeof(*file));
    if (file == NULL)
        goto fail;
    file->is_stdout = strcmp(path, "-") == 0;
    /* Several workers write one output at once. A write(2) appending to a file lands whole,
     * and a pipe keeps a write of up to PIPE_BUF bytes whole: batches of whole lines no
     * larger than that never mix. (A write per line had been a system call per event:
     * 3.9 s of system time for the 2 M events of a flood.) */
    file->fd = file->is_stdout ? STDOUT_FILENO
                               : open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (file->fd < 0) {
        snprintf(error, error_size, "%s: cannot open for writing: %s", path, strerror(errno));
        free(file);
        return NULL;
    }
    struct stat status;
    file->regular = fstat(file->fd, &status) == 0 && S_ISREG(status.st_mode);
    file->shared = shared;
    file->batch_size = !shared ? BATCH_BYTES : file->regular ? SHARED_FILE_BATCH_BYTES : PIPE_BUF;
    file->batch = malloc(file->batch_size);
    file->base.ops = &file_ops;
    file->base.name = strdup(file->is_stdout ? "standard output" : path);
    if (file->batch == NULL || file->base.name == NULL) {
        if (!file->is_stdout)
            close(file->fd);
        free(file->batch);
        free((char *)file->base.name);
        free(file);
        goto fail;
    }
    return &file->base;

fail:
    snprintf(error, error_size, "out of memory");
    return NULL;
}
