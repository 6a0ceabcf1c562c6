#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sink.h"

struct file_sink {
    struct sink base;
    FILE *stream;
    bool is_stdout;
    bool failed; /* a write failed: said once, then every further line is counted lost */
    uint64_t lost;
    char *buffer;
};

static int file_write(struct sink *sink, const struct event_line *line)
{
    struct file_sink *file = (struct file_sink *)sink;
    if (file->failed || fwrite(line->text, 1, line->length, file->stream) != line->length) {
        if (!file->failed)
            log_message(LOG_ERROR, "writing events to %s: %s", sink->name, strerror(errno));
        file->failed = true;
        file->lost++;
        return -1;
    }
    return 0;
}

static int file_flush(struct sink *sink)
{
    struct file_sink *file = (struct file_sink *)sink;
    if (!file->failed && fflush(file->stream) != 0) {
        log_message(LOG_ERROR, "writing events to %s: %s", sink->name, strerror(errno));
        file->failed = true;
        return -1;
    }
    return 0;
}

static uint64_t file_close(struct sink *sink)
{
    struct file_sink *file = (struct file_sink *)sink;
    file_flush(sink);
    if (!file->is_stdout && fclose(file->stream) != 0 && !file->failed) {
        log_message(LOG_ERROR, "closing %s: %s", sink->name, strerror(errno));
        file->lost++;
    }
    uint64_t lost = file->lost;
    free(file->buffer);
    free((char *)sink->name);
    free(file);
    return lost;
}

static const struct sink_ops file_ops = {file_write, file_flush, file_close};

struct sink *sink_file_open(const char *path, bool shared, char *error, size_t error_size)
{
    struct file_sink *file = calloc(1, sizeof(*file));
    if (file == NULL)
        goto fail;
    file->is_stdout = strcmp(path, "-") == 0;
    file->stream = file->is_stdout ? stdout : fopen(path, shared ? "a" : "w");
    if (file->stream == NULL) {
        snprintf(error, error_size, "%s: cannot open for writing: %s", path, strerror(errno));
        free(file);
        return NULL;
    }
    /* Events are small lines; a large buffer turns them into few write calls. */
    const size_t buffer_size = 1 << 20;
    file->buffer = malloc(buffer_size);
    if (file->buffer != NULL)
        setvbuf(file->stream, file->buffer, shared ? _IOLBF : _IOFBF, buffer_size);
    file->base.ops = &file_ops;
    file->base.name = strdup(file->is_stdout ? "standard output" : path);
    return &file->base;

fail:
    snprintf(error, error_size, "out of memory");
    return NULL;
}
