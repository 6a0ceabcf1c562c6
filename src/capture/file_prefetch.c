#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* fopencookie */
#endif
#include "capture/file_prefetch.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct block {
    uint8_t *bytes;
    size_t length;
    int error; /* errno of a failed read that ended the file here, or 0 */
};

/* Blocks go round a ring: the thread fills them in order and the stream's reads empty
 * them in the same order. `filled` counts blocks handed over and not yet given back; the
 * lock is taken once per block, never per read. */
struct prefetch {
    int fd;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    struct block blocks[FILE_PREFETCH_BLOCKS];
    unsigned filled;     /* under lock */
    bool done;           /* under lock: the thread handed over its last block */
    bool closing;        /* under lock: fclose asks the thread to end */
    unsigned take_index; /* stream side only: the block being emptied */
    size_t take_offset;
    bool taking;      /* stream side only: take_index is handed over */
    bool ended;       /* stream side only: end of file or an error was reached */
    int64_t position; /* stream side only: bytes handed to the stream, for ftell */
};

static void *run_thread(void *argument)
{
    struct prefetch *prefetch = argument;
    /* Signals are for the thread that analyses: it is the one that stops the capture. */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    unsigned index = 0;
    for (;;) {
        struct block *block = &prefetch->blocks[index];
        block->length = 0;
        block->error = 0;
        /* A whole block (or the rest of the file), so each hand-over moves a megabyte. */
        while (block->length < FILE_PREFETCH_BLOCK_BYTES) {
            ssize_t got = read(prefetch->fd, block->bytes + block->length,
                               FILE_PREFETCH_BLOCK_BYTES - block->length);
            if (got < 0 && errno == EINTR)
                continue;
            if (got < 0)
                block->error = errno;
            if (got <= 0)
                break;
            block->length += (size_t)got;
        }
        bool last = block->length < FILE_PREFETCH_BLOCK_BYTES;
        pthread_mutex_lock(&prefetch->lock);
        if (prefetch->closing) {
            pthread_mutex_unlock(&prefetch->lock);
            break;
        }
        prefetch->filled++;
        prefetch->done = last;
        pthread_cond_broadcast(&prefetch->changed);
        while (!last && prefetch->filled == FILE_PREFETCH_BLOCKS && !prefetch->closing)
            pthread_cond_wait(&prefetch->changed, &prefetch->lock);
        bool stop = last || prefetch->closing;
        pthread_mutex_unlock(&prefetch->lock);
        if (stop)
            break;
        index = (index + 1) % FILE_PREFETCH_BLOCKS;
    }
    return NULL;
}

/* Gives the emptied block back and waits for the next; false at the end of the file. */
static bool next_block(struct prefetch *prefetch)
{
    pthread_mutex_lock(&prefetch->lock);
    if (prefetch->taking) {
        prefetch->filled--;
        pthread_cond_broadcast(&prefetch->changed);
        prefetch->take_index = (prefetch->take_index + 1) % FILE_PREFETCH_BLOCKS;
        prefetch->taking = false;
    }
    /* Once the last block was taken, done stays set and no other block comes. */
    while (prefetch->filled == 0 && !prefetch->done)
        pthread_cond_wait(&prefetch->changed, &prefetch->lock);
    bool available = prefetch->filled > 0;
    pthread_mutex_unlock(&prefetch->lock);
    if (!available)
        return false;
    prefetch->taking = true;
    prefetch->take_offset = 0;
    return true;
}

static ssize_t stream_read(void *cookie, char *buffer, size_t size)
{
    struct prefetch *prefetch = cookie;
    size_t copied = 0;
    while (copied < size && !prefetch->ended) {
        struct block *block = &prefetch->blocks[prefetch->take_index];
        if (!prefetch->taking || prefetch->take_offset == block->length) {
            if (prefetch->taking && block->error != 0) {
                /* The read error comes after the bytes read before it, as inline. */
                prefetch->ended = true;
                if (copied > 0)
                    break;
                errno = block->error;
                return -1;
            }
            if (!next_block(prefetch)) {
                prefetch->ended = true;
                break;
            }
            continue;
        }
        size_t count = block->length - prefetch->take_offset;
        if (count > size - copied)
            count = size - copied;
        memcpy(buffer + copied, block->bytes + prefetch->take_offset, count);
        prefetch->take_offset += count;
        copied += count;
    }
    prefetch->position += (int64_t)copied;
    return (ssize_t)copied;
}

int file_prefetch_next(struct prefetch *prefetch, const uint8_t **bytes, size_t *length)
{
    for (;;) {
        if (prefetch->ended)
            return 0;
        const struct block *block = &prefetch->blocks[prefetch->take_index];
        if (prefetch->taking && block->error != 0) {
            /* The read error comes after the bytes read before it, as inline. */
            prefetch->ended = true;
            errno = block->error;
            return -1;
        }
        if (!next_block(prefetch)) {
            prefetch->ended = true;
            return 0;
        }
        block = &prefetch->blocks[prefetch->take_index];
        prefetch->take_offset = block->length;
        prefetch->position += (int64_t)block->length;
        if (block->length == 0)
            continue; /* the end, or an error, comes next time round */
        *bytes = block->bytes;
        *length = block->length;
        return 1;
    }
}

/* Only the question "where am I" (ftell), for progress. */
static int stream_seek(void *cookie, off64_t *offset, int whence)
{
    struct prefetch *prefetch = cookie;
    if (whence != SEEK_CUR || *offset != 0) {
        errno = ESPIPE;
        return -1;
    }
    *offset = prefetch->position;
    return 0;
}

static void free_blocks(struct prefetch *prefetch)
{
    for (unsigned i = 0; i < FILE_PREFETCH_BLOCKS; i++)
        free(prefetch->blocks[i].bytes);
    free(prefetch);
}

static int stream_close(void *cookie)
{
    struct prefetch *prefetch = cookie;
    pthread_mutex_lock(&prefetch->lock);
    prefetch->closing = true;
    pthread_cond_broadcast(&prefetch->changed);
    pthread_mutex_unlock(&prefetch->lock);
    pthread_join(prefetch->thread, NULL);
    pthread_mutex_destroy(&prefetch->lock);
    pthread_cond_destroy(&prefetch->changed);
    int status = close(prefetch->fd);
    free_blocks(prefetch);
    return status;
}

int file_prefetch_stop(struct prefetch *prefetch)
{
    return stream_close(prefetch);
}

struct prefetch *file_prefetch_start(int fd)
{
    struct prefetch *prefetch = calloc(1, sizeof(*prefetch));
    if (prefetch == NULL) {
        close(fd);
        return NULL;
    }
    prefetch->fd = fd;
    for (unsigned i = 0; i < FILE_PREFETCH_BLOCKS; i++) {
        prefetch->blocks[i].bytes = malloc(FILE_PREFETCH_BLOCK_BYTES);
        if (prefetch->blocks[i].bytes == NULL) {
            close(fd);
            free_blocks(prefetch);
            return NULL;
        }
    }
    pthread_mutex_init(&prefetch->lock, NULL);
    pthread_cond_init(&prefetch->changed, NULL);
    if (pthread_create(&prefetch->thread, NULL, run_thread, prefetch) != 0) {
        pthread_mutex_destroy(&prefetch->lock);
        pthread_cond_destroy(&prefetch->changed);
        close(fd);
        free_blocks(prefetch);
        return NULL;
    }
    return prefetch;
}

FILE *file_prefetch_open(int fd)
{
    struct prefetch *prefetch = file_prefetch_start(fd);
    if (prefetch == NULL)
        return NULL;
    cookie_io_functions_t functions = {
        .read = stream_read,
        .seek = stream_seek,
        .close = stream_close,
    };
    FILE *stream = fopencookie(prefetch, "rb", functions);
    if (stream == NULL) {
        stream_close(prefetch); /* stops the thread, closes fd, frees */
        return NULL;
    }
    /* glibc reads an unbuffered stream a byte at a time; a buffer in L2 (as capture.c
     * gives ordinary files) keeps libpcap's two freads per packet out of stream_read. */
    setvbuf(stream, NULL, _IOFBF, 64 * 1024);
    return stream;
}
