/* The NDJSON file sink: lines in order, lost lines counted when the disk refuses them and
 * the file left ending at its last whole line, and with --workers several processes
 * writing one file or one pipe at once without a line ever mixing into another. */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "output/sink.h"

#define LINES_PER_WRITER 20000

/* Line n of writer w: its length varies from a few bytes to most of PIPE_BUF, so batches
 * end at every kind of boundary. */
static size_t make_line(char *buffer, size_t size, int writer, int n)
{
    int pad = (n * 7919) % 3000;
    int length =
        snprintf(buffer, size, "{\"w\":%d,\"n\":%d,\"pad\":\"%0*d\"}\n", writer, n, pad, 0);
    cr_assert(length > 0 && (size_t)length < size);
    return (size_t)length;
}

static void write_lines(struct sink *sink, int writer)
{
    static char text[4096];
    for (int n = 0; n < LINES_PER_WRITER; n++) {
        struct event_line line = {.type = "attempt", .text = text};
        line.length = make_line(text, sizeof(text), writer, n);
        if (sink->ops->write(sink, &line) != 0)
            _exit(3);
        if (n % 5000 == 0 && sink->ops->flush(sink) != 0)
            _exit(4);
    }
}

/* Every line whole and where it belongs: each writer's lines all there, in its order. */
static void check_lines(FILE *in, int writers)
{
    int next[8] = {0};
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length;
    size_t count = 0;
    while ((length = getline(&line, &capacity, in)) > 0) {
        int writer, n;
        cr_assert_eq(sscanf(line, "{\"w\":%d,\"n\":%d,", &writer, &n), 2, "mixed line: %.80s",
                     line);
        cr_assert(writer >= 0 && writer < writers);
        char expected[4096];
        size_t expected_length = make_line(expected, sizeof(expected), writer, n);
        cr_assert_eq((size_t)length, expected_length, "line %d of writer %d cut or mixed", n,
                     writer);
        cr_assert_eq(memcmp(line, expected, expected_length), 0);
        cr_assert_eq(n, next[writer], "writer %d: line %d after %d", writer, n, next[writer]);
        next[writer]++;
        count++;
    }
    free(line);
    cr_assert_eq(count, (size_t)writers * LINES_PER_WRITER);
}

static void run_writers(const char *path, int writers, int pipe_out, int pipe_in)
{
    pid_t children[8];
    for (int w = 0; w < writers; w++) {
        children[w] = fork();
        cr_assert(children[w] >= 0);
        if (children[w] == 0) {
            /* Only the test reads: a writer must not keep the pipe open for itself. */
            if (pipe_in >= 0)
                close(pipe_in);
            if (pipe_out >= 0 && dup2(pipe_out, STDOUT_FILENO) < 0)
                _exit(2);
            char error[256];
            struct sink *sink = sink_file_open(path, true, error, sizeof(error));
            if (sink == NULL)
                _exit(1);
            write_lines(sink, w);
            _exit(sink->ops->close(sink) == 0 ? 0 : 5);
        }
    }
    if (pipe_out >= 0)
        close(pipe_out);
}

static void wait_writers(int writers)
{
    for (int w = 0; w < writers; w++) {
        int status;
        cr_assert(wait(&status) > 0);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a writer failed: %d", status);
    }
}

TestSuite(sink_file, .timeout = 60);

Test(sink_file, workers_appending_to_one_file_never_mix_lines)
{
    char path[] = "/tmp/op25b-sink-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    run_writers(path, 3, -1, -1);
    wait_writers(3);
    FILE *in = fopen(path, "r");
    cr_assert_not_null(in);
    check_lines(in, 3);
    fclose(in);
    unlink(path);
}

Test(sink_file, workers_writing_one_pipe_never_mix_lines)
{
    int ends[2];
    cr_assert_eq(pipe(ends), 0);
    run_writers("-", 3, ends[1], ends[0]);
    FILE *in = fdopen(ends[0], "r");
    cr_assert_not_null(in);
    check_lines(in, 3); /* reads while they write: the pipe would fill otherwise */
    fclose(in);
    wait_writers(3);
}

/* A disk that refuses every write: each line handed over is counted lost, shared or not. */
Test(sink_file, lines_a_full_disk_refuses_are_counted_lost)
{
    for (int shared = 0; shared < 2; shared++) {
        char error[256];
        struct sink *sink = sink_file_open("/dev/full", shared, error, sizeof(error));
        cr_assert_not_null(sink, "%s", error);
        char text[4096];
        int written = 0;
        for (int n = 0; n < 500; n++) {
            struct event_line line = {.type = "attempt", .text = text};
            line.length = make_line(text, sizeof(text), 0, n);
            sink->ops->write(sink, &line);
            written++;
        }
        cr_assert_eq(sink->ops->close(sink), (uint64_t)written, "shared %d", shared);
    }
}

static void write_text(struct sink *sink, const char *text)
{
    struct event_line line = {.type = "attempt", .text = text, .length = strlen(text)};
    cr_assert_eq(sink->ops->write(sink, &line), 0);
}

static char *read_whole(const char *path)
{
    FILE *in = fopen(path, "r");
    cr_assert_not_null(in, "%s", path);
    static char text[2][256];
    static int which;
    char *buffer = text[which++ % 2];
    size_t length = fread(buffer, 1, sizeof(text[0]) - 1, in);
    buffer[length] = '\0';
    fclose(in);
    return buffer;
}

/* SIGHUP after logrotate moved the file: what was buffered goes to the moved file, the
 * rest to a new file at the path; shared (appending) or not. */
Test(sink_file, reopen_sends_the_buffered_lines_to_the_moved_file)
{
    for (int shared = 0; shared < 2; shared++) {
        char directory[] = "/tmp/op25b-sink-XXXXXX", path[PATH_MAX], moved[PATH_MAX];
        cr_assert_not_null(mkdtemp(directory));
        snprintf(path, sizeof(path), "%s/events.ndjson", directory);
        snprintf(moved, sizeof(moved), "%s/events.ndjson.1", directory);
        char error[256];
        struct sink *sink = sink_file_open(path, shared, error, sizeof(error));
        cr_assert_not_null(sink, "%s", error);
        write_text(sink, "{\"n\":1}\n");
        write_text(sink, "{\"n\":2}\n");
        cr_assert_eq(rename(path, moved), 0);
        cr_assert_eq(sink->ops->reopen(sink), 0);
        write_text(sink, "{\"n\":3}\n");
        cr_assert_eq(sink->ops->close(sink), 0);
        cr_assert_str_eq(read_whole(moved), "{\"n\":1}\n{\"n\":2}\n");
        cr_assert_str_eq(read_whole(path), "{\"n\":3}\n");
        /* Opened again (a restart), then re-opened without a move: the lines go on at the
         * end of the same file, nothing cut away, shared or not. */
        sink = sink_file_open(path, shared, error, sizeof(error));
        cr_assert_not_null(sink, "%s", error);
        write_text(sink, "{\"n\":4}\n");
        cr_assert_eq(sink->ops->reopen(sink), 0);
        write_text(sink, "{\"n\":5}\n");
        cr_assert_eq(sink->ops->close(sink), 0);
        cr_assert_str_eq(read_whole(path), "{\"n\":3}\n{\"n\":4}\n{\"n\":5}\n");
        unlink(moved);
        unlink(path);
        rmdir(directory);
    }
}

/* A path that cannot be opened again: -1, and the lines go on to the file already open. */
Test(sink_file, a_failed_reopen_keeps_the_old_file)
{
    char directory[] = "/tmp/op25b-sink-XXXXXX", path[PATH_MAX], moved[PATH_MAX];
    cr_assert_not_null(mkdtemp(directory));
    snprintf(path, sizeof(path), "%s/events.ndjson", directory);
    snprintf(moved, sizeof(moved), "%s/events.ndjson.1", directory);
    char error[256];
    struct sink *sink = sink_file_open(path, false, error, sizeof(error));
    cr_assert_not_null(sink, "%s", error);
    write_text(sink, "{\"n\":1}\n");
    cr_assert_eq(rename(path, moved), 0);
    cr_assert_eq(mkdir(path, 0700), 0);
    cr_assert_eq(sink->ops->reopen(sink), -1);
    write_text(sink, "{\"n\":2}\n");
    cr_assert_eq(sink->ops->close(sink), 0);
    cr_assert_str_eq(read_whole(moved), "{\"n\":1}\n{\"n\":2}\n");
    rmdir(path);
    unlink(moved);
    rmdir(directory);
}

/* A pipe whose reader has gone: the sink says so (SIGPIPE ignored, as the sensor does), and
 * every line is counted lost. */
Test(sink_file, a_closed_pipe_means_the_reader_has_gone)
{
    signal(SIGPIPE, SIG_IGN);
    int ends[2];
    cr_assert_eq(pipe(ends), 0);
    close(ends[0]);
    int saved = dup(STDOUT_FILENO);
    cr_assert_eq(dup2(ends[1], STDOUT_FILENO), STDOUT_FILENO);
    close(ends[1]);
    char error[256];
    struct sink *sink = sink_file_open("-", false, error, sizeof(error));
    cr_assert_not_null(sink, "%s", error);
    cr_assert_eq(sink->ops->reopen(sink), 0); /* standard output: nothing to re-open */
    write_text(sink, "{\"n\":1}\n");
    cr_assert(!sink->reader_gone);
    sink->ops->flush(sink);
    cr_assert(sink->reader_gone);
    struct event_line line = {.type = "attempt", .text = "{\"n\":2}\n", .length = 8};
    cr_assert_eq(sink->ops->write(sink, &line), -1);
    cr_assert_eq(sink->ops->close(sink), 2);
    dup2(saved, STDOUT_FILENO);
    close(saved);
}

/* A file size limit (RLIMIT_FSIZE) stands for a full disk: the write that reaches it is
 * short, the next one fails (EFBIG). A write cut short mid-line is the case to test. */
static void limit_file_size(rlim_t bytes)
{
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit limit = {.rlim_cur = bytes, .rlim_max = RLIM_INFINITY};
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &limit), 0);
}

/* Reads path: every line must be whole and each writer's lines a prefix of its own, in
 * order (once a write failed, the rest are lost). Fills kept[w]; returns the file size. */
static size_t check_whole_prefixes(const char *path, int writers, int *kept)
{
    FILE *in = fopen(path, "r");
    cr_assert_not_null(in);
    memset(kept, 0, sizeof(int) * (size_t)writers);
    char *line = NULL;
    size_t capacity = 0, size = 0;
    ssize_t length;
    while ((length = getline(&line, &capacity, in)) > 0) {
        int writer, n;
        cr_assert_eq(line[length - 1], '\n', "the file ends in part of a line: %.80s", line);
        cr_assert_eq(sscanf(line, "{\"w\":%d,\"n\":%d,", &writer, &n), 2, "cut line: %.80s", line);
        cr_assert(writer >= 0 && writer < writers);
        char expected[4096];
        size_t expected_length = make_line(expected, sizeof(expected), writer, n);
        cr_assert_eq((size_t)length, expected_length, "line %d of writer %d cut", n, writer);
        cr_assert_eq(memcmp(line, expected, expected_length), 0);
        cr_assert_eq(n, kept[writer], "writer %d: line %d after %d", writer, n, kept[writer]);
        kept[writer]++;
        size += (size_t)length;
    }
    free(line);
    fclose(in);
    return size;
}

/* One process, the disk full in the middle of a batch: the file ends at the last whole
 * line (the part of the next one cut away), and every line not in it is counted lost. */
Test(sink_file, a_full_disk_leaves_the_file_ending_at_a_whole_line)
{
    char path[] = "/tmp/op25b-sink-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    limit_file_size(100000);
    char error[256];
    struct sink *sink = sink_file_open(path, false, error, sizeof(error));
    cr_assert_not_null(sink, "%s", error);
    char text[4096];
    for (int n = 0; n < 500; n++) {
        struct event_line line = {.type = "attempt", .text = text};
        line.length = make_line(text, sizeof(text), 0, n);
        sink->ops->write(sink, &line);
    }
    uint64_t lost = sink->ops->close(sink);
    int kept;
    size_t size = check_whole_prefixes(path, 1, &kept);
    cr_assert(size > 90000 && size <= 100000, "%zu bytes kept of the 100000 the disk took", size);
    cr_assert_eq(lost, (uint64_t)(500 - kept), "%d lines kept, %llu counted lost", kept,
                 (unsigned long long)lost);
    unlink(path);
}

/* Workers appending to one file until it is full: each cuts back only its own part line
 * (under the file's lock), so the file holds whole lines only, and each worker's kept and
 * lost lines add up to what it wrote. */
Test(sink_file, workers_filling_the_disk_leave_only_whole_lines)
{
    char path[] = "/tmp/op25b-sink-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    int counts[2];
    cr_assert_eq(pipe(counts), 0);
    for (int w = 0; w < 3; w++) {
        pid_t child = fork();
        cr_assert(child >= 0);
        if (child == 0) {
            limit_file_size(3000000);
            char error[256];
            struct sink *sink = sink_file_open(path, true, error, sizeof(error));
            if (sink == NULL)
                _exit(1);
            static char text[4096];
            for (int n = 0; n < LINES_PER_WRITER; n++) {
                struct event_line line = {.type = "attempt", .text = text};
                line.length = make_line(text, sizeof(text), w, n);
                sink->ops->write(sink, &line);
            }
            uint64_t said[2] = {(uint64_t)w, sink->ops->close(sink)};
            _exit(write(counts[1], said, sizeof(said)) == sizeof(said) ? 0 : 2);
        }
    }
    close(counts[1]);
    wait_writers(3);
    uint64_t lost[3] = {0};
    uint64_t said[2];
    while (read(counts[0], said, sizeof(said)) == sizeof(said))
        lost[said[0]] = said[1];
    close(counts[0]);
    int kept[3];
    size_t size = check_whole_prefixes(path, 3, kept);
    cr_assert(size <= 3000000);
    for (int w = 0; w < 3; w++)
        cr_assert_eq((uint64_t)kept[w] + lost[w], (uint64_t)LINES_PER_WRITER,
                     "writer %d: %d kept, %llu lost", w, kept[w], (unsigned long long)lost[w]);
    unlink(path);
}
