/* An on-disk queue of events that could not be handed to Kafka in time: append-only
 * segment files of length-prefixed records (key, type, value) in one directory. Records
 * come out in the order they went in, also across restarts; a segment is deleted once
 * every record taken from it was settled (delivered, or given up and counted).
 *
 * Delivery is at least once: a crash, or records taken but not settled at close, replay
 * the segment they came from on the next start. */
#ifndef OP25B_SPOOL_H
#define OP25B_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Larger fields mark a damaged file rather than an event (EVENT_LINE_MAX is 8 KiB). */
#define SPOOL_KEY_MAX 1024
#define SPOOL_TYPE_MAX 256
#define SPOOL_VALUE_MAX (1u << 20)
#define SPOOL_DEFAULT_SEGMENT_BYTES (16u << 20)

struct spool_record {
    const char *key; /* may be NULL when key_length is 0 */
    size_t key_length;
    const char *type;
    size_t type_length;
    const char *value;
    size_t value_length;
};

struct spool;

/* Opens (creating it if needed) and locks directory; segments left by an earlier run are
 * checked and queued first. segment_bytes: 0 for SPOOL_DEFAULT_SEGMENT_BYTES. NULL with
 * a message on error. */
struct spool *spool_open(const char *directory, uint64_t segment_bytes, char *error,
                         size_t error_size);
/* Keeps what is not settled for the next start and releases everything. Records taken
 * and settled leave the files for good; taken and unsettled ones are kept. */
void spool_close(struct spool *spool);

/* Appends one record after every other. 0, or -1 after logging why. */
int spool_append(struct spool *spool, const struct spool_record *record);
/* Records that are in the spool and not yet taken. */
uint64_t spool_pending(const struct spool *spool);
/* The oldest record not yet taken: 1 and *record (valid until the next spool call), or 0
 * when there is none. A damaged segment is logged and skipped. */
int spool_peek(struct spool *spool, struct spool_record *record);
/* Takes the record spool_peek returned. ticket names it for spool_settle: any number the
 * caller chooses, larger than every ticket given before. */
void spool_take(struct spool *spool, uint64_t ticket);
/* A taken record is done with; its segment goes once all its records are. */
void spool_settle(struct spool *spool, uint64_t ticket);
/* Puts records in front of every record not yet taken, in one new segment that is synced
 * to disk (for events that must survive a shutdown before they were delivered). 0 or -1. */
int spool_prepend(struct spool *spool, const struct spool_record *records, size_t count);

const char *spool_directory(const struct spool *spool);

#endif
