/* For the files that write event lines (event.c, event_finding.c, json_fields.c): every event
 * starts and ends the same way. Not for detectors, which describe findings (finding.h) instead. */
#ifndef OP25B_EVENT_WRITER_H
#define OP25B_EVENT_WRITER_H

#include "output/event.h"
#include "record/field_walker.h"
#include "util/json.h"

/* Starts the line in events->line with type, schema version, packet time and sensor. */
void event_begin(struct events *events, struct json_writer *writer, enum event_type type,
                 packet_time ts);
/* Enrichment of a flow's server (dashboards/events.md): dst_asn, dst_as_org, dst_country, each
 * only when the policy configures its database and the lookup finds it. */
void event_write_geoip(struct json_writer *writer, const struct policy *policy,
                       const struct address *dst);
/* The flow fields of dashboards/events.md, for attempts and findings alike: src_ip, src_port,
 * dst_ip, dst_port, proto, community_id and the server's enrichment. src_text gets the
 * source as written, which is most events' Kafka key. */
void event_write_flow(struct json_writer *writer, const struct policy *policy,
                      const struct address *src, uint16_t src_port, const struct address *dst,
                      uint16_t dst_port, uint8_t proto, char src_text[ADDRESS_TEXT_MAX]);
/* pool and its blocking_point, then segment, each when known (-1: not). */
void event_write_place(struct json_writer *writer, const struct policy *policy, int pool,
                       int segment);
/* The same with the blocking point given (POLICY_NO_INDEX: none), for a finding about
 * another point than its pool's. */
void event_write_place_at(struct json_writer *writer, const struct policy *policy, int pool,
                          int point, int segment);
/* The same from the texts events_init formatted, for the pools and segments it cached. */
void event_write_place_cached(struct events *events, struct json_writer *writer, int pool,
                              int segment);
/* Ends the line and hands it to every sink with its Kafka key. */
void event_emit(struct events *events, struct json_writer *writer, enum event_type type,
                const char *key);
/* Writes walked fields into a JSON line (context: the struct json_writer). */
extern const struct field_walker json_field_walker;

#endif
