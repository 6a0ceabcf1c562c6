/* The kinds of record the sensor hands on, one per event type of dashboards/events.md. */
#ifndef OP25B_EVENT_TYPE_H
#define OP25B_EVENT_TYPE_H

#include <stdbool.h>

enum event_type {
    EVENT_ATTEMPT = 0,
    /* Attempts of one subscriber folded together (the policy's events.summarize): written
     * by the event lines alone, never published on the bus. */
    EVENT_ATTEMPT_SUMMARY,
    EVENT_COVERAGE,
    EVENT_SENSOR_STATS,
    /* Findings of the detectors (record/finding.h). */
    EVENT_ASYMMETRIC_ROUTING,
    EVENT_SPOOFED_SOURCE,
    EVENT_TRIANGULAR_SPAM,
    EVENT_INBOUND_ACL_VIOLATION,
    EVENT_BOT_SUSPECT,
    EVENT_NONSTANDARD_PORT_SMTP,
    EVENT_OPEN_SUBMISSION,
    EVENT_POP_BEFORE_SMTP,
    EVENT_THIRD_PARTY_SUBMISSION,
    EVENT_MSA_ABUSE,
    EVENT_CLEARTEXT_AUTH,
    EVENT_COLLATERAL_BLOCK,
    /* Periodic like coverage, per MSA and pool (record/migration.h): no finding, though a
     * detector writes it. */
    EVENT_SUBMISSION_MIGRATION,
    EVENT_TYPE_COUNT
};

/* The finding types are the last ones, from here on (policy_finding_names repeats them). */
#define EVENT_FIRST_FINDING EVENT_ASYMMETRIC_ROUTING

/* The event's "type" name; "unknown" out of range. */
const char *event_type_name(enum event_type type);
/* True for the types a detector finds; false for attempt and the periodic reports
 * (coverage, sensor_stats, submission_migration). */
bool event_type_is_finding(enum event_type type);

#endif
