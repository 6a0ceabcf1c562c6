/* Reading a regular file ahead on a second core. The kernel's copy out of the page cache
 * costs as much as analysing the packets; a thread does the read() calls into a few large
 * blocks while the caller's thread, through an ordinary FILE, takes the bytes of the
 * blocks already read. Only the bytes move between threads: libpcap still parses the
 * file on the caller's thread, so packets and events come out exactly as when reading
 * inline. Memory is bounded by the blocks; nothing is allocated per read. */
#ifndef OP25B_FILE_PREFETCH_H
#define OP25B_FILE_PREFETCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FILE_PREFETCH_BLOCKS 4
#define FILE_PREFETCH_BLOCK_BYTES (1u << 20)

/* A read-only stream over fd, which it takes over: fclose closes fd, and stops and waits
 * for the thread. NULL when memory or a thread could not be had; fd is closed then too,
 * and the caller opens the file the ordinary way. ftell works; seeking does not. */
FILE *file_prefetch_open(int fd);

/* The same read-ahead without the stream, for a reader that parses the blocks where they
 * lie (pcap_records.h): fd taken over as above, or NULL. */
struct prefetch;
struct prefetch *file_prefetch_start(int fd);
/* The next block of the file, in order: 1 and its bytes, which stay valid until the next
 * call (the block before is given back to the thread then); 0 at the end; -1 when a read
 * failed (errno), after the bytes read before it. */
int file_prefetch_next(struct prefetch *prefetch, const uint8_t **bytes, size_t *length);
/* Stops and waits for the thread, frees the blocks, closes fd: close's status. */
int file_prefetch_stop(struct prefetch *prefetch);

#endif
