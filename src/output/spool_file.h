/* The spool's files on disk (output/spool.c keeps the queue): segment names, the segment
 * and record layout, whole reads and writes, and setting a damaged segment aside.
 *
 * File layout, all integers little-endian so a spool survives a move between machines:
 *   segment header: magic "OP25BSPL", u32 version, u32 zero, u64 start
 *   record:         u32 key length, u32 type length, u32 value length, u32 checksum,
 *                   key, type, value
 * start is the offset of the first record still to send: records before it were settled
 * in an earlier run. The checksum (FNV-1a over lengths and bytes) finds a record torn by a
 * crash or damaged on disk. */
#ifndef OP25B_SPOOL_FILE_H
#define OP25B_SPOOL_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "output/spool.h"

#define SPOOL_SEGMENT_HEADER_BYTES 24
#define SPOOL_RECORD_HEADER_BYTES 16
#define SPOOL_SEGMENT_NAME_MAX 48
/* Added to a damaged segment's name when it is set aside: never read, never deleted. */
#define SPOOL_DAMAGED_SUFFIX ".damaged"

enum spool_name {
    SPOOL_NAME_OTHER,    /* not the spool's */
    SPOOL_NAME_SEGMENT,  /* <16 hex digits>.seg */
    SPOOL_NAME_SET_ASIDE /* a segment set aside: <16 hex digits>.seg[.N].damaged */
};

void spool_segment_name(uint64_t id, char *name, size_t size);
/* What a directory entry is, and the segment id in its name. */
enum spool_name spool_parse_name(const char *name, uint64_t *id);

enum spool_header {
    SPOOL_HEADER_OK,
    SPOOL_HEADER_DAMAGED,      /* short, zeroed, not ours or a start outside the file */
    SPOOL_HEADER_OTHER_VERSION /* a segment of another format version: left alone */
};

void spool_encode_header(uint8_t header[SPOOL_SEGMENT_HEADER_BYTES], uint64_t start);
enum spool_header spool_check_header(const uint8_t *header, size_t length, uint64_t file_size,
                                     uint64_t *start);
/* Offset of the start field, rewritten as records are settled. */
#define SPOOL_START_OFFSET 16
void spool_put_u64(uint8_t *out, uint64_t value);

uint64_t spool_record_bytes(const struct spool_record *record);
/* Writes the record, header and all, into out (spool_record_bytes long). */
void spool_encode_record(const struct spool_record *record, uint8_t *out);

/* A buffer that grows to the largest record read. */
struct spool_buffer {
    uint8_t *bytes;
    size_t size;
};

/* Reads the record at offset: 1 with *record pointing into buffer and *length its size on
 * disk, 0 at the end of the file, -1 on a torn or damaged record or a read error. */
int spool_read_record(int fd, uint64_t offset, struct spool_buffer *buffer,
                      struct spool_record *record, uint64_t *length);
/* pread until size bytes came: 1, 0 at the end of the file, -1 on error. */
int spool_read_exact(int fd, void *buffer, size_t size, uint64_t offset);
/* pwrite until every byte is written (short writes go on, EINTR is retried): 0, or -1 with
 * errno and *written the bytes that did reach the file. */
int spool_write_exact(int fd, const void *buffer, size_t size, uint64_t offset, size_t *written);

/* Renames a damaged segment to NAME.damaged (or NAME.N.damaged when that exists), never
 * replacing a file: 0 with the new name in aside, or -1 with errno. */
int spool_set_aside(int directory_fd, const char *name, char *aside, size_t aside_size);

#endif
