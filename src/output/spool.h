/* An on-disk queue of events that could not be handed to Kafka in time: append-only
 * segment files of length-prefixed records (key, type, value) in one directory. Records
 * come out in the order they went in, also across restarts; a segment is deleted once
 * every record taken from it was settled (delivered, or given up and counted).
 *
 * What the spool promises:
 * - A record is kept once spool_append returned 0: it was written whole with write(2), so
 *   it survives the sensor's own crash. It is durable (survives a power loss) once synced:
 *   at each segment's end, at spool_sync and spool_close, and otherwise within
 *   SPOOL_SYNC_SECONDS of wall time or SPOOL_SYNC_BYTES, whichever comes first, checked at
 *   each append and at spool_idle.
 * - An append the disk refuses (full, I/O error) returns -1: the part of the record that
 *   reached the file is cut off, so the segment ends at its last whole record and stays
 *   readable; the caller counts the event as lost.
 * - A sync the disk refuses: the records it covered that were not taken yet are cut off
 *   and counted in spool_lost (records already taken are on their way).
 * - A damaged segment (found at start or while reading) is counted (spool_damaged) and
 *   logged as an error naming it; its whole records are sent, and then it is renamed
 *   aside to NAME.damaged, never deleted, never appended to, never read again.
 *
 * Delivery is at least once: a crash, or records taken but not settled at close, replay
 * the segment they came from on the next start. */
#ifndef OP25B_SPOOL_H
#define OP25B_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Larger fields mark a damaged file rather than an event (EVENT_LINE_MAX is 8 KiB). */
#define SPOOL_KEY_MAX 1024
#define SPOOL_TYPE_MAX 256
#define SPOOL_VALUE_MAX (1u << 20)
#define SPOOL_DEFAULT_SEGMENT_BYTES (16u << 20)
/* The sync schedule: at most this much wall time or this many bytes written since the last
 * sync is at risk on a power loss. A sync costs a few milliseconds, a second of events at
 * most a few thousand lines; the spool is the slow path, taken only while Kafka cannot
 * keep up. */
#define SPOOL_SYNC_SECONDS 1.0
#define SPOOL_SYNC_BYTES (1u << 20)

struct spool_record {
    const char *key; /* may be NULL when key_length is 0 */
    size_t key_length;
    const char *type;
    size_t type_length;
    const char *value;
    size_t value_length;
};

struct spool;

/* Opens (creating it, mode 0700, if needed) and locks directory; segments left by an
 * earlier run are checked and queued first. segment_bytes: 0 for
 * SPOOL_DEFAULT_SEGMENT_BYTES. NULL with a message on error. Files the spool creates or
 * finds belong to the directory's owner: run as root, it gives them to that user, so a
 * spool prepared with spool_prepare_directory stays usable after the program drops root. */
struct spool *spool_open(const char *directory, uint64_t segment_bytes, char *error,
                         size_t error_size);
/* Syncs, keeps what is not settled for the next start and releases everything. Records
 * taken and settled leave the files for good; taken and unsettled ones are kept. */
void spool_close(struct spool *spool);

/* Appends one record after every other. 0 once it is written whole, or -1 (errno says
 * why; the first failure of a series is logged) with the file cut back to its last whole
 * record. */
int spool_append(struct spool *spool, const struct spool_record *record);
/* Syncs what was appended (see above). 0, or -1 when records were lost (spool_lost). */
int spool_sync(struct spool *spool);
/* For idle moments: syncs when the schedule says it is time. */
void spool_idle(struct spool *spool);
/* Records that are in the spool and not yet taken. */
uint64_t spool_pending(const struct spool *spool);
/* The oldest record not yet taken: 1 and *record (valid until the next spool call), or 0
 * when there is none. The records of a segment that cannot be read on are counted lost
 * and the segment damaged. */
int spool_peek(struct spool *spool, struct spool_record *record);
/* Takes the record spool_peek returned. ticket names it for spool_settle: any number the
 * caller chooses, larger than every ticket given before. */
void spool_take(struct spool *spool, uint64_t ticket);
/* A taken record is done with; its segment goes once all its records are. */
void spool_settle(struct spool *spool, uint64_t ticket);
/* Puts records in front of every record not yet taken, in one new segment that is synced
 * to disk (for events that must survive a shutdown before they were delivered). Returns
 * how many of them, from the first, are kept: fewer than count when the disk refused the
 * rest. */
size_t spool_prepend(struct spool *spool, const struct spool_record *records, size_t count);

/* Records the spool had taken in (appended, or found at start) and lost: cut off after a
 * failed sync, or in a segment that could not be read on. */
uint64_t spool_lost(const struct spool *spool);
/* Damaged segments found since spool_open (each set aside once its whole records went). */
uint64_t spool_damaged(const struct spool *spool);

/* For a program that drops root for user uid (group gid) after opening its outputs: call
 * before spool_open (as root). A missing directory is created mode 0700 and given to
 * uid:gid; an existing one must be writable and searchable by that user by its mode bits
 * (owner uid, else group gid, else others: supplementary groups are not counted) and is
 * never chowned, so that a mistyped path cannot give a system directory away. 0, or -1
 * with a message naming the directory and what to do (a usage error). In spool_file.c. */
int spool_prepare_directory(const char *directory, uid_t uid, gid_t gid, char *error,
                            size_t error_size);

const char *spool_directory(const struct spool *spool);

#endif
