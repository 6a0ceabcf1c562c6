/* The read-ahead stream against the file it reads: the same bytes in the same order for
 * every file size around the block boundaries and every read size, the position ftell
 * gives, an early close that must not hang, and a read error passed on. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/file_prefetch.h"

static uint8_t *pattern(size_t size)
{
    uint8_t *bytes = malloc(size ? size : 1);
    uint32_t state = (uint32_t)size * 2654435761u + 1;
    for (size_t i = 0; i < size; i++) {
        state = state * 1103515245u + 12345u;
        bytes[i] = (uint8_t)(state >> 16);
    }
    return bytes;
}

static int temporary_file(const uint8_t *bytes, size_t size)
{
    char path[] = "/tmp/op25b-prefetch-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    unlink(path);
    for (size_t done = 0; done < size;) {
        ssize_t wrote = write(fd, bytes + done, size - done);
        cr_assert(wrote > 0);
        done += (size_t)wrote;
    }
    cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
    return fd;
}

static void read_back(size_t size, size_t chunk)
{
    uint8_t *bytes = pattern(size);
    FILE *stream = file_prefetch_open(temporary_file(bytes, size));
    cr_assert_not_null(stream);
    uint8_t *got = malloc(size + chunk);
    size_t total = 0;
    for (;;) {
        size_t n = fread(got + total, 1, chunk, stream);
        total += n;
        cr_assert_eq(ftell(stream), (long)total, "size %zu chunk %zu", size, chunk);
        if (n < chunk)
            break;
    }
    cr_assert(feof(stream) && !ferror(stream));
    cr_assert_eq(total, size, "size %zu chunk %zu: %zu bytes", size, chunk, total);
    cr_assert(memcmp(got, bytes, size) == 0, "size %zu chunk %zu: bytes differ", size, chunk);
    cr_assert_eq(fclose(stream), 0);
    free(got);
    free(bytes);
}

Test(file_prefetch, every_byte_in_order_around_block_boundaries)
{
    const size_t block = FILE_PREFETCH_BLOCK_BYTES;
    const size_t sizes[] = {0,
                            1,
                            16,
                            block - 1,
                            block,
                            block + 1,
                            3 * block + block / 2,
                            FILE_PREFETCH_BLOCKS * block,
                            10 * block + 7};
    const size_t chunks[] = {1, 16, 1500, 65536, 3 * FILE_PREFETCH_BLOCK_BYTES};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
        for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++)
            if (sizes[s] < 4 * block || chunks[c] >= 1500) /* byte reads of big files: slow */
                read_back(sizes[s], chunks[c]);
}

Test(file_prefetch, closing_early_stops_the_thread)
{
    size_t size = 12 * FILE_PREFETCH_BLOCK_BYTES;
    uint8_t *bytes = pattern(size);
    for (int i = 0; i < 20; i++) {
        FILE *stream = file_prefetch_open(temporary_file(bytes, size));
        cr_assert_not_null(stream);
        uint8_t first[100];
        if (i % 2)
            cr_assert_eq(fread(first, 1, sizeof(first), stream), sizeof(first));
        /* The thread may be waiting for a free block, or still reading: either way fclose
         * must return. */
        cr_assert_eq(fclose(stream), 0);
    }
    free(bytes);
}

Test(file_prefetch, a_read_error_is_an_error_not_an_end)
{
    /* read() on a directory fails with EISDIR. */
    int fd = open("/tmp", O_RDONLY | O_DIRECTORY);
    cr_assert(fd >= 0);
    FILE *stream = file_prefetch_open(fd);
    cr_assert_not_null(stream);
    char byte;
    cr_assert_eq(fread(&byte, 1, 1, stream), 0);
    cr_assert(ferror(stream), "a failed read must show as an error");
    fclose(stream);
}

Test(file_prefetch, seeking_is_refused)
{
    uint8_t bytes[10] = {0};
    FILE *stream = file_prefetch_open(temporary_file(bytes, sizeof(bytes)));
    cr_assert_not_null(stream);
    cr_assert_neq(fseek(stream, 5, SEEK_SET), 0);
    fclose(stream);
}
