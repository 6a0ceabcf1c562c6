/* What a detector found, described as data: the event type, the flow it concerns and a
 * short list of named values. event_finding() turns it into a line, so detectors never
 * write JSON and every finding shares the common fields of dashboards/events.md. */
#ifndef OP25B_FINDING_H
#define OP25B_FINDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/address.h"
#include "output/event.h"
#include "util/packet_time.h"

#define FINDING_MAX_FIELDS 40

enum finding_field_kind {
    FINDING_U64,
    FINDING_I64,
    FINDING_STRING,
    FINDING_BOOL,
    FINDING_NUMBER,  /* fixed decimals */
    FINDING_ADDRESS,
    FINDING_TIME,    /* packet time, written as RFC 3339 */
    FINDING_OBJECT,  /* opens a nested object: the fields after it, up to FINDING_END */
    FINDING_LIST,    /* opens a list of strings: FINDING_STRING fields up to FINDING_END */
    FINDING_END,
};

struct finding_field {
    const char *name; /* a static string; ignored inside a list */
    uint8_t kind;     /* enum finding_field_kind */
    uint8_t decimals;
    union {
        uint64_t u64;
        int64_t i64;
        const char *string; /* must live until event_finding() returns */
        bool boolean;
        double number;
        struct address address;
        packet_time time;
    } value;
};

struct finding {
    enum event_type type;
    packet_time ts;
    /* The flow, when the finding has one: src is the side that opened it. */
    bool has_flow;
    struct address src;
    struct address dst;
    uint16_t src_port;
    uint16_t dst_port;
    uint8_t proto; /* 6 TCP, 17 UDP */
    int pool;      /* index in policy.pools or -1: adds pool and blocking_point */
    int segment;   /* index in policy.segments or -1 */
    /* The Kafka key: the subscriber's address; src when not set. */
    bool has_key;
    struct address key;
    size_t field_count;
    bool overflow; /* more fields than FINDING_MAX_FIELDS were added (a bug: logged) */
    struct finding_field fields[FINDING_MAX_FIELDS];
};

void finding_init(struct finding *finding, enum event_type type, packet_time ts);
void finding_set_flow(struct finding *finding, const struct address *src, uint16_t src_port,
                      const struct address *dst, uint16_t dst_port, uint8_t proto);
void finding_set_key(struct finding *finding, const struct address *subscriber);

void finding_u64(struct finding *finding, const char *name, uint64_t value);
void finding_i64(struct finding *finding, const char *name, int64_t value);
void finding_string(struct finding *finding, const char *name, const char *value);
void finding_bool(struct finding *finding, const char *name, bool value);
void finding_number(struct finding *finding, const char *name, double value, int decimals);
void finding_address(struct finding *finding, const char *name, const struct address *value);
void finding_time(struct finding *finding, const char *name, packet_time value);
void finding_object_begin(struct finding *finding, const char *name);
void finding_list_begin(struct finding *finding, const char *name);
void finding_end(struct finding *finding);

/* Readers of a finding (the report, the metrics): a top-level field by name, or NULL; and
 * a numeric field's value as a double (false for NULL or a field of another kind). */
const struct finding_field *finding_field_named(const struct finding *finding, const char *name);
bool finding_field_number(const struct finding_field *field, double *value);

/* Writes the finding as one event line (and tells the observers, with the finding). */
void event_finding(struct events *events, const struct finding *finding);

#endif
