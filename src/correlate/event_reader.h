/* The sensors' events, as the correlator reads them (JSON, with jansson): an attempt's
 * report (who saw it, when, its flow and verdict) or a sensor's clock (every event carries
 * the sensor's packet time; a final sensor_stats says the sensor has ended). */
#ifndef OP25B_CORRELATE_EVENT_READER_H
#define OP25B_CORRELATE_EVENT_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"
#include "record/verdict.h"
#include "util/address.h"
#include "util/community_id.h"
#include "util/packet_time.h"

enum fleet_input_kind {
    INPUT_ATTEMPT,  /* an attempt event of a sensor of the fleet, in a pool of the policy */
    INPUT_CLOCK,    /* coverage or sensor_stats: the sensor's clock (final: it has ended) */
    INPUT_OTHER,    /* a finding, or an attempt the fleet does not judge: ts is a clock */
    INPUT_STRANGER, /* an event of a sensor the fleet policy does not list */
    INPUT_BAD,      /* not an event of schema version 1 */
};

struct fleet_input {
    enum fleet_input_kind kind;
    int sensor; /* index in policy.fleet_sensors (ATTEMPT, CLOCK, OTHER) */
    packet_time ts;
    bool final; /* CLOCK: the sensor's last event */
    /* ATTEMPT */
    packet_time end; /* ts + duration: the attempt's last packet */
    char community_id[COMMUNITY_ID_TEXT_MAX];
    char src[ADDRESS_TEXT_MAX];
    char dst[ADDRESS_TEXT_MAX];
    uint16_t src_port;
    uint16_t dst_port;
    uint8_t family; /* ADDRESS_V4 or ADDRESS_V6 */
    int pool;       /* in the fleet policy, by the source address */
    enum verdict verdict;
    evidence_set evidence;
};

/* Reads one message value. type is the message's `type` header when it has one (NULL
 * otherwise): events other than attempts and the periodic ones are then not parsed. */
void fleet_input_read(const struct policy *policy, const char *type, const void *value,
                      size_t length, struct fleet_input *out);
/* RFC 3339 as the events write it (2026-01-15T09:00:30.000000Z) -> packet time. */
bool fleet_parse_time(const char *text, packet_time *out);

#endif
