#include "record/event_type.h"

const char *event_type_name(enum event_type type)
{
    static const char *const names[EVENT_TYPE_COUNT] = {"attempt",
                                                        "attempt_summary",
                                                        "coverage",
                                                        "sensor_stats",
                                                        "asymmetric_routing",
                                                        "spoofed_source",
                                                        "triangular_spam",
                                                        "inbound_acl_violation",
                                                        "bot_suspect",
                                                        "nonstandard_port_smtp",
                                                        "open_submission",
                                                        "pop_before_smtp",
                                                        "third_party_submission",
                                                        "msa_abuse",
                                                        "cleartext_auth",
                                                        "collateral_block",
                                                        "submission_migration"};
    return (unsigned)type < EVENT_TYPE_COUNT ? names[type] : "unknown";
}

bool event_type_is_finding(enum event_type type)
{
    return type > EVENT_SENSOR_STATS && type < EVENT_TYPE_COUNT &&
           type != EVENT_SUBMISSION_MIGRATION;
}
