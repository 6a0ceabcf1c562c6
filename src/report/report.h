/* The audit report (--report FILE): the blocking-point coverage audit, the pre-rollout
 * impact of draft section 4.1 (submissions to third-party servers), the ACL the policy
 * calls for, the top bot suspects and the evasion findings. It subscribes to the bus's
 * records while the input is read, keeps bounded summaries, and is written once at the
 * end as JSON, HTML or text (report_json.c, report_html.c, report_text.c). */
#ifndef OP25B_REPORT_H
#define OP25B_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "policy/acl.h"
#include "report/report_migration.h"
#include "util/address.h"
#include "record/coverage.h"
#include "record/bus.h"
#include "record/event_type.h"
#include "record/finding.h"
#include "util/packet_time.h"
#include "policy/policy.h"
#include "record/stats.h"
#include "record/verdict.h"

#define REPORT_SCHEMA_VERSION 1
/* Bounds: the report holds summaries, whatever the length of the input. */
#define REPORT_LEAKS_MAX 1000              /* leaks listed one by one; all are counted */
#define REPORT_FINDINGS_KEPT 200           /* findings listed per type; all are counted */
#define REPORT_SERVERS_MAX 2000            /* servers per impact table */
#define REPORT_SUBSCRIBERS_PER_SERVER 4096 /* distinct subscribers counted exactly per server */
#define REPORT_SUSPECTS_MAX 2000           /* subscribers ranked for bot_suspect */
#define REPORT_TOP_SUSPECTS 25             /* ... of which the report lists the top */
#define REPORT_TIMELINE_BUCKETS 96         /* attempts over time; buckets widen to fit */
#define REPORT_INPUTS_MAX 16
#define REPORT_COLLATERAL_ROWS 256 /* blocking point, pool, reason, port; all counted */

enum report_format { REPORT_JSON = 0, REPORT_HTML, REPORT_TEXT };

struct report_leak {
    packet_time ts;
    struct address src;
    struct address dst;
    uint16_t src_port;
    uint16_t dst_port;
    int pool;
    int segment;
    evidence_set evidence;
    uint16_t syn_count;
    char close_reason[16];
    bool has_smtp;
    bool auth;
    bool starttls;
    bool auth_known; /* as the attempt event's auth and starttls (smtp_fields.h) */
    bool starttls_known;
    bool rcpt_known;     /* no command went unseen: rcpt_count is whole */
    bool messages_known; /* ... and no answer to a message went unseen */
    uint32_t rcpt_count;
    uint32_t messages_accepted;
    char helo[64];
    char mail_from_domain[64];
};

/* A server that findings name: a third-party MSA, an open submission server, a POP
 * provider. Subscribers are counted exactly up to REPORT_SUBSCRIBERS_PER_SERVER. */
struct report_server {
    struct address address;
    uint16_t port;
    uint64_t sessions;
    struct address *subscribers;
    size_t subscriber_count;
    size_t subscriber_capacity;
    bool subscribers_capped;
    bool submission_port_seen; /* seen serving 587 or 465 */
    packet_time first_seen;
    packet_time last_seen;
    char as_org[64];
    char country[8];
};

struct report_servers {
    struct report_server *items;
    size_t count;
    size_t capacity;
    uint64_t not_kept; /* findings about servers beyond REPORT_SERVERS_MAX */
};

/* What the block breaks: collateral_block findings by blocking point, pool, reason and port
 * (report_collateral.c). */
struct report_collateral_row {
    int blocking_point;
    int pool;
    uint8_t reason; /* enum collateral_reason */
    uint16_t port;
    uint64_t findings;
    uint64_t by_evidence[COLLATERAL_EVIDENCES];
    packet_time first_seen;
    packet_time last_seen;
};

struct report_collateral {
    struct report_collateral_row rows[REPORT_COLLATERAL_ROWS];
    size_t count;
    uint64_t not_kept; /* findings of rows beyond REPORT_COLLATERAL_ROWS */
};

struct report_timeline {
    bool started;
    packet_time origin; /* start of bucket 0 */
    packet_time width;  /* bucket width; doubles when the attempts span more buckets */
    size_t used;        /* buckets 0..used-1 hold the span seen */
    uint64_t counts[REPORT_TIMELINE_BUCKETS][VERDICT_COUNT];
};

struct report {
    const struct policy *policy;
    const char *inputs[REPORT_INPUTS_MAX];
    size_t input_count;

    /* Filled by report_finish(). */
    bool finished;
    const char *end_reason;
    packet_time end;
    struct sensor_counters counters;
    struct coverage_counts *coverage; /* [pool * 2 + (IPv6 ? 1 : 0)], copied at the end */
    uint64_t events[EVENT_TYPE_COUNT];
    uint64_t sink_errors;
    struct acl acl;

    /* Gathered from events as they are written. */
    packet_time first_ts; /* earliest attempt or finding, 0 when none */
    packet_time last_ts;
    struct report_timeline timeline;
    struct report_leak *leaks;
    size_t leak_count;
    uint64_t leaks_total;
    uint64_t leak_stages[EVIDENCE_COUNT];       /* leaks by the highest evidence reached */
    struct finding *findings[EVENT_TYPE_COUNT]; /* the first REPORT_FINDINGS_KEPT of each */
    size_t finding_count[EVENT_TYPE_COUNT];
    uint64_t findings_total[EVENT_TYPE_COUNT];
    struct report_servers third_party;     /* third_party_submission, by MSA address */
    struct report_servers open_submission; /* open_submission, by server and port */
    struct report_servers pop_before_smtp; /* pop_before_smtp, by provider address */
    struct report_servers submission_seen; /* any finding to port 587/465, by server */
    struct finding *suspects;              /* the highest-scored bot_suspect per subscriber */
    size_t suspect_count;
    uint64_t suspects_not_kept;
    struct report_collateral collateral; /* collateral_block findings, summed */
    struct report_migration *migration;  /* "Moving submission to 587" (report_migration.h) */
};

/* NULL when out of memory. */
struct report *report_new(const struct policy *policy);
void report_free(struct report *report);
/* Names of the capture sources, for the report's heading (kept by pointer). */
void report_set_inputs(struct report *report, const char *const *names, size_t count);
/* Subscribes the report to the bus's attempts and findings. */
int report_attach(struct report *report, struct bus *bus);
/* Takes the final coverage and counters, and (output, may be NULL) what the output wrote;
 * call after sensor_finish(). 0, -1 out of memory. */
int report_finish(struct report *report, const struct output_counts *output,
                  const struct sensor_counters *counters, const struct coverage *coverage,
                  packet_time end, const char *reason);

/* The end of a report: the ACL, the submission flags that need every finding, the end
 * time and reason. report_finish calls it; a merged report (report_merge.c) calls it once
 * every worker's state is in. 0, -1 out of memory. */
int report_conclude(struct report *report, packet_time end, const char *reason);

/* --report with --workers (report_merge.c): each worker saves its finished report's state
 * to a file the parent gave it, and the parent adds the states into one report. Workers
 * are forked, never exec'd, and share the parent's policy. */
int report_save(const struct report *report, FILE *out);
/* Adds one saved state into report (a report_new() one, never finished). 0, or -1 with a
 * message when the state is damaged or memory runs out; what was added before stays. */
int report_merge(struct report *report, FILE *in, char *error, size_t error_size);
/* After the last report_merge: orders leaks and findings by time and concludes. */
int report_merge_finish(struct report *report);

/* Pieces of the report the merge shares with the collector (report.c). */
struct report_server *report_find_server(struct report_servers *servers,
                                         const struct address *address, uint16_t port, bool create);
void report_server_add_subscriber(struct report_server *server, const struct address *subscriber);
/* Keeps candidate (copied) when it is its subscriber's highest score so far. */
void report_keep_suspect(struct report *report, const struct finding *candidate);
void report_timeline_merge(struct report_timeline *into, const struct report_timeline *from);

/* The format a file name asks for by its extension; -1 when none of .json .html .txt. */
int report_format_of(const char *path);
/* Writes the report to path in the format its extension names, through a temporary file
 * beside it (path + REPORT_TEMPORARY_SUFFIX) renamed into place. 0, or -1 with a message. */
#define REPORT_TEMPORARY_SUFFIX ".tmp"
int report_write(const struct report *report, const char *path, char *error, size_t error_size);
int report_write_json(const struct report *report, FILE *out);
int report_write_html(const struct report *report, FILE *out);
int report_write_text(const struct report *report, FILE *out);

/* Helpers the writers share. */
const struct coverage_counts *report_pool_counts(const struct report *report, int pool, int family);
/* Sums the pools behind a blocking point. */
void report_point_counts(const struct report *report, int point, int family,
                         struct coverage_counts *out);
bool report_pool_has_family(const struct policy *policy, int pool, int family);
bool report_point_has_family(const struct policy *policy, int point, int family);
void report_totals(const struct report *report, struct coverage_counts *out);
/* Bot suspects sorted by score (highest first); fills order[] with indexes, returns count. */
size_t report_top_suspects(const struct report *report, size_t *order, size_t capacity);
/* A kept finding's facts as one JSON object (json) or one line of name=value text, for the
 * writers (report_fields.c); malloc'd, NULL when out of memory. */
char *report_finding_fields(const struct report *report, const struct finding *finding, bool json);
/* What the block breaks (report_collateral.c): a collateral_block finding counted in its row;
 * another report's rows added (--workers); the rows put in one order, by blocking point,
 * pool, reason and port (report_conclude). */
void report_collateral_note(struct report_collateral *collateral, const struct finding *finding,
                            const struct policy *policy);
void report_collateral_merge(struct report_collateral *into, const struct report_collateral *from);
void report_collateral_order(struct report_collateral *collateral);
/* Is an event type a way around the block: draft section 4.4.1's attacks and the inbound
 * ACL they need, or SMTP relayed on another port? */
bool report_is_evasion(enum event_type type);

#endif
