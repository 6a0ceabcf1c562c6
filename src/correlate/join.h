/* The join: one partition's attempts still being put together from the sensors' reports.
 * Reports about one attempt share its Community ID; two reports are one attempt when their
 * times overlap, widened by the clock skew allowed between sensors, and come from
 * different sensors (a sensor reports each attempt once, so a second report of one sensor
 * with the same five-tuple is a new connection: a reused port). Attempts wait in the order
 * their first report arrived, so the oldest input offset still needed is the first's. */
#ifndef OP25B_CORRELATE_JOIN_H
#define OP25B_CORRELATE_JOIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "correlate/event_reader.h"

/* Reports one attempt can join: one per sensor that carries its pool. */
#define FLEET_REPORTS_MAX 16
/* The Kafka key of the events about a subscriber (an address, or an IPv6 prefix). */
#define FLEET_KEY_MAX 64

struct fleet_report {
    int sensor;
    enum verdict verdict;
    evidence_set evidence;
    packet_time ts;
    packet_time end;
    int64_t offset;
};

struct fleet_attempt {
    char community_id[COMMUNITY_ID_TEXT_MAX];
    char key[FLEET_KEY_MAX];
    char src[ADDRESS_TEXT_MAX];
    char dst[ADDRESS_TEXT_MAX];
    uint16_t src_port;
    uint16_t dst_port;
    uint8_t family;
    int pool;
    packet_time start; /* the earliest report's first packet */
    packet_time end;   /* the latest report's last packet */
    struct fleet_report reports[FLEET_REPORTS_MAX];
    int report_count;
    int64_t first_offset;
    uint64_t hash;
    struct fleet_attempt *bucket_next;
    struct fleet_attempt *older;
    struct fleet_attempt *newer;
};

struct join {
    struct fleet_attempt **buckets;
    size_t mask;
    size_t count;
    struct fleet_attempt *oldest; /* waiting, in the order their first report arrived */
    struct fleet_attempt *newest;
    uint64_t reports_dropped; /* a sensor's report beyond FLEET_REPORTS_MAX */
};

int join_init(struct join *join);
/* Frees every waiting attempt. */
void join_free(struct join *join);
/* Joins an attempt report read at offset: to a waiting attempt it belongs to, or to a new
 * one. Returns the attempt, or NULL when out of memory. */
struct fleet_attempt *join_add(struct join *join, const struct fleet_input *input, const char *key,
                               size_t key_length, int64_t offset, packet_time skew);
/* Takes a decided attempt out and frees it. */
void join_remove(struct join *join, struct fleet_attempt *attempt);
/* The report of sensor in attempt, or NULL. */
const struct fleet_report *join_report_of(const struct fleet_attempt *attempt, int sensor);

#endif
