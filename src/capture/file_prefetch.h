/* Reading a regular file ahead on a second core. The kernel's copy out of the page cache
 * costs as much as analysing the packets; a thread does the read() calls into a few large
 * blocks while the caller's thread, through an ordinary FILE, takes the bytes of the
 * blocks already read. Only the bytes move between threads: libpcap still parses the
 * file on the caller's thread, so packets and events come out exactly as when reading
 * inline. Memory is bounded by the blocks; nothing is allocated per read. */
#ifndef OP25B_FILE_PREFETCH_H
#define OP25B_FILE_PREFETCH_H

#include <stdio.h>

#define FILE_PREFETCH_BLOCKS 4
#define FILE_PREFETCH_BLOCK_BYTES (1u << 20)

/* A read-only stream over fd, which it takes over: fclose closes fd, and stops and waits
 * for the thread. NULL when memory or a thread could not be had; fd is closed then too,
 * and the caller opens the file the ordinary way. ftell works; seeking does not. */
FILE *file_prefetch_open(int fd);

#endif
