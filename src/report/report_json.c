/* The report as one JSON document (schema: dashboards/report-schema.md), indented so a
 * person can read it too. Same input, same bytes: no wall-clock time goes in. */
#include <stdlib.h>
#include <string.h>

#include "util/community_id.h"
#include "util/json.h"
#include "report/report.h"

static void time_value(struct json_stream *w, const char *key, packet_time ts)
{
    char text[PACKET_TIME_TEXT_MAX];
    if (ts == 0) {
        json_stream_string(w, key, NULL);
        return;
    }
    packet_time_format(ts, text, sizeof(text));
    json_stream_string(w, key, text);
}

static void address_value(struct json_stream *w, const char *key, const struct address *address)
{
    char text[ADDRESS_TEXT_MAX];
    address_format(address, text, sizeof(text));
    json_stream_string(w, key, text);
}

static const char *pool_name(const struct policy *policy, int pool)
{
    return pool >= 0 && (size_t)pool < policy->pool_count ? policy->pools[pool].name : NULL;
}

static const char *point_name(const struct policy *policy, int pool)
{
    if (pool < 0 || (size_t)pool >= policy->pool_count ||
        policy->pools[pool].blocking_point == POLICY_NO_INDEX)
        return NULL;
    return policy->blocking_points[policy->pools[pool].blocking_point].name;
}

static const char *segment_name(const struct policy *policy, int segment)
{
    return segment >= 0 && (size_t)segment < policy->segment_count ? policy->segments[segment].name
                                                                   : NULL;
}

/* attempts, one count per verdict, and the coverage ratio (null when not known). */
static void tally(struct json_stream *w, const char *key, const struct coverage_counts *counts)
{
    json_stream_object(w, key);
    json_stream_u64(w, "attempts", coverage_attempts(counts));
    for (int v = 0; v < VERDICT_COUNT; v++)
        json_stream_u64(w, verdict_name((enum verdict)v), counts->by_verdict[v]);
    double ratio = 0;
    bool known = coverage_ratio(counts, &ratio);
    json_stream_fixed(w, "coverage", known, ratio, 4);
    json_stream_object_end(w);
}

static void family_tallies(struct json_stream *w, const struct coverage_counts counts[2],
                           const bool present[2])
{
    static const char *const keys[2] = {"ipv4", "ipv6"};
    struct coverage_counts total = {0};
    for (int f = 0; f < 2; f++) {
        if (!present[f])
            continue;
        tally(w, keys[f], &counts[f]);
        for (int v = 0; v < VERDICT_COUNT; v++)
            total.by_verdict[v] += counts[f].by_verdict[v];
    }
    tally(w, "total", &total);
}

static void write_heading(struct json_stream *w, const struct report *report)
{
    const struct policy *policy = report->policy;
    json_stream_string(w, "report", "op25b-watch audit");
    json_stream_u64(w, "v", REPORT_SCHEMA_VERSION);
    json_stream_string(w, "generator", "op25b-watch " OP25B_VERSION);
    json_stream_object(w, "sensor");
    json_stream_string(w, "name", policy->sensor_name);
    json_stream_string(w, "position", sensor_position_name(policy->position));
    json_stream_object_end(w);
    json_stream_string(w, "policy", policy->path);
    json_stream_array(w, "inputs");
    for (size_t i = 0; i < report->input_count; i++)
        json_stream_string(w, NULL, report->inputs[i]);
    json_stream_array_end(w);
    json_stream_string(w, "end_reason", report->end_reason);
    time_value(w, "first_ts", report->first_ts);
    time_value(w, "last_ts", report->end > report->last_ts ? report->end : report->last_ts);

    const struct sensor_counters *counters = &report->counters;
    struct coverage_counts totals;
    report_totals(report, &totals);
    json_stream_object(w, "totals");
    json_stream_u64(w, "packets", counters->packets);
    json_stream_u64(w, "bytes", counters->bytes);
    json_stream_u64(w, "capture_drops", counters->capture_drops);
    json_stream_u64(w, "capture_errors", counters->capture_errors);
    json_stream_u64(w, "flows_created", counters->flows_created);
    json_stream_u64(w, "evictions", counters->flow_evictions);
    json_stream_u64(w, "attempts", coverage_attempts(&totals));
    for (int v = 0; v < VERDICT_COUNT; v++)
        json_stream_u64(w, verdict_name((enum verdict)v), totals.by_verdict[v]);
    json_stream_object(w, "events");
    for (int t = 0; t < EVENT_TYPE_COUNT; t++)
        json_stream_u64(w, event_type_name((enum event_type)t), report->events[t]);
    json_stream_object_end(w);
    json_stream_u64(w, "sink_errors", report->sink_errors);
    json_stream_object_end(w);
}

static void write_leak(struct json_stream *w, const struct report *report,
                       const struct report_leak *leak)
{
    const struct policy *policy = report->policy;
    char community[COMMUNITY_ID_TEXT_MAX];
    json_stream_object(w, NULL);
    time_value(w, "ts", leak->ts);
    address_value(w, "src_ip", &leak->src);
    json_stream_u64(w, "src_port", leak->src_port);
    address_value(w, "dst_ip", &leak->dst);
    json_stream_u64(w, "dst_port", leak->dst_port);
    json_stream_u64(w, "ip_version", leak->src.family);
    if (community_id_v1(0, &leak->src, &leak->dst, 6, leak->src_port, leak->dst_port, community,
                        sizeof(community)) > 0)
        json_stream_string(w, "community_id", community);
    json_stream_string(w, "pool", pool_name(policy, leak->pool));
    json_stream_string(w, "blocking_point", point_name(policy, leak->pool));
    json_stream_string(w, "segment", segment_name(policy, leak->segment));
    json_stream_array(w, "evidence");
    for (int e = 0; e < EVIDENCE_COUNT; e++) {
        if (leak->evidence & EVIDENCE_BIT(e))
            json_stream_string(w, NULL, evidence_name((enum evidence)e));
    }
    json_stream_array_end(w);
    enum evidence stage = evidence_highest_leak(leak->evidence);
    json_stream_string(w, "stage", stage < EVIDENCE_COUNT ? evidence_name(stage) : NULL);
    json_stream_u64(w, "syn_count", leak->syn_count);
    json_stream_string(w, "close_reason", leak->close_reason);
    if (leak->has_smtp) {
        json_stream_object(w, "smtp");
        json_stream_string(w, "helo", leak->helo);
        json_stream_string(w, "mail_from_domain", leak->mail_from_domain);
        json_stream_u64(w, "rcpt_count", leak->rcpt_count);
        json_stream_u64(w, "messages_accepted", leak->messages_accepted);
        json_stream_bool(w, "auth", leak->auth);
        json_stream_bool(w, "starttls", leak->starttls);
        json_stream_object_end(w);
    }
    json_stream_object_end(w);
}

static void write_coverage(struct json_stream *w, const struct report *report)
{
    const struct policy *policy = report->policy;
    json_stream_object(w, "coverage");
    json_stream_array(w, "blocking_points");
    for (size_t b = 0; b < policy->blocking_point_count; b++) {
        const struct blocking_point *point = &policy->blocking_points[b];
        json_stream_object(w, NULL);
        json_stream_string(w, "name", point->name);
        json_stream_u64(w, "level", (uint64_t)point->level);
        json_stream_string(w, "level_name", blocking_level_name(point->level));
        json_stream_string(w, "state", blocking_state_name(point->state));
        json_stream_string(w, "reject", blocking_reject_name(point->reject));
        json_stream_array(w, "pools");
        for (size_t p = 0; p < policy->pool_count; p++) {
            if (policy->pools[p].type == POOL_DYNAMIC && policy->pools[p].blocking_point == (int)b)
                json_stream_string(w, NULL, policy->pools[p].name);
        }
        json_stream_array_end(w);
        struct coverage_counts counts[2];
        bool present[2];
        for (int f = 0; f < 2; f++) {
            int family = f == 0 ? ADDRESS_V4 : ADDRESS_V6;
            report_point_counts(report, (int)b, family, &counts[f]);
            present[f] = report_point_has_family(policy, (int)b, family);
        }
        family_tallies(w, counts, present);
        json_stream_object_end(w);
    }
    json_stream_array_end(w);

    for (int assigned = 1; assigned >= 0; assigned--) {
        json_stream_array(w, assigned ? "pools" : "pools_without_blocking_point");
        for (size_t p = 0; p < policy->pool_count; p++) {
            const struct pool *pool = &policy->pools[p];
            if (pool->type != POOL_DYNAMIC ||
                (pool->blocking_point != POLICY_NO_INDEX) != (assigned == 1))
                continue;
            json_stream_object(w, NULL);
            json_stream_string(w, "name", pool->name);
            json_stream_string(w, "blocking_point", point_name(policy, (int)p));
            json_stream_array(w, "prefixes");
            for (size_t i = 0; i < pool->prefix_count; i++) {
                char text[PREFIX_TEXT_MAX];
                prefix_format(&pool->prefixes[i], text, sizeof(text));
                json_stream_string(w, NULL, text);
            }
            json_stream_array_end(w);
            struct coverage_counts counts[2];
            bool present[2];
            for (int f = 0; f < 2; f++) {
                int family = f == 0 ? ADDRESS_V4 : ADDRESS_V6;
                counts[f] = *report_pool_counts(report, (int)p, family);
                present[f] = report_pool_has_family(policy, (int)p, family);
            }
            family_tallies(w, counts, present);
            json_stream_object_end(w);
        }
        json_stream_array_end(w);
    }

    json_stream_object(w, "leaks");
    json_stream_u64(w, "total", report->leaks_total);
    json_stream_u64(w, "listed", report->leak_count);
    json_stream_object(w, "by_stage");
    for (int e = 0; e < EVIDENCE_COUNT; e++) {
        if (EVIDENCE_BIT(e) & EVIDENCE_LEAK_MASK)
            json_stream_u64(w, evidence_name((enum evidence)e), report->leak_stages[e]);
    }
    json_stream_object_end(w);
    json_stream_array(w, "items");
    for (size_t i = 0; i < report->leak_count; i++)
        write_leak(w, report, &report->leaks[i]);
    json_stream_array_end(w);
    json_stream_object_end(w);
    json_stream_object_end(w);
}

static void write_timeline(struct json_stream *w, const struct report *report)
{
    const struct report_timeline *timeline = &report->timeline;
    json_stream_object(w, "timeline");
    json_stream_u64(w, "bucket_seconds", (uint64_t)(timeline->width / PACKET_TIME_SECOND));
    json_stream_array(w, "buckets");
    for (size_t i = 0; timeline->started && i < timeline->used; i++) {
        json_stream_object(w, NULL);
        time_value(w, "start", timeline->origin + (packet_time)i * timeline->width);
        for (int v = 0; v < VERDICT_COUNT; v++)
            json_stream_u64(w, verdict_name((enum verdict)v), timeline->counts[i][v]);
        json_stream_object_end(w);
    }
    json_stream_array_end(w);
    json_stream_object_end(w);
}

static void write_servers(struct json_stream *w, const char *key, const struct report_servers *servers,
                          bool with_port, bool with_submission)
{
    json_stream_object(w, key);
    json_stream_u64(w, "not_kept", servers->not_kept);
    json_stream_array(w, "servers");
    for (size_t i = 0; i < servers->count; i++) {
        const struct report_server *server = &servers->items[i];
        json_stream_object(w, NULL);
        address_value(w, "address", &server->address);
        if (with_port)
            json_stream_u64(w, "port", server->port);
        json_stream_u64(w, "sessions", server->sessions);
        json_stream_u64(w, "subscribers", server->subscriber_count);
        json_stream_bool(w, "subscribers_capped", server->subscribers_capped);
        if (with_submission)
            json_stream_bool(w, "submission_port_seen", server->submission_port_seen);
        time_value(w, "first_seen", server->first_seen);
        time_value(w, "last_seen", server->last_seen);
        if (server->as_org[0] != '\0')
            json_stream_string(w, "as_org", server->as_org);
        if (server->country[0] != '\0')
            json_stream_string(w, "country", server->country);
        json_stream_object_end(w);
    }
    json_stream_array_end(w);
    json_stream_object_end(w);
}

static void write_acl_counts(struct json_stream *w, const struct acl *acl)
{
    static const char *const keys[2] = {"ipv4", "ipv6"};
    json_stream_object(w, "formula");
    for (int f = 0; f < 2; f++) {
        json_stream_object(w, keys[f]);
        json_stream_u64(w, "dynamic_blocks", acl->families[f].dynamic_blocks);
        json_stream_u64(w, "msa_blocks", acl->families[f].msa_blocks);
        json_stream_u64(w, "rules", acl->families[f].formula);
        json_stream_object_end(w);
    }
    json_stream_object_end(w);
    json_stream_object(w, "generated");
    for (int f = 0; f < 2; f++) {
        json_stream_object(w, keys[f]);
        json_stream_u64(w, "msa_permits", acl->families[f].msa_permits);
        json_stream_u64(w, "exempt_permits", acl->families[f].exempt_permits);
        json_stream_u64(w, "denies", acl->families[f].denies);
        json_stream_u64(w, "rules", acl->families[f].rules);
        json_stream_u64(w, "planned", acl->families[f].planned);
        json_stream_object_end(w);
    }
    json_stream_u64(w, "without_blocking_point", acl->unassigned);
    json_stream_object_end(w);
}

static void write_acl_rule(struct json_stream *w, const struct policy *policy,
                           const struct acl_rule *rule, size_t n)
{
    char text[PREFIX_TEXT_MAX];
    json_stream_object(w, NULL);
    json_stream_u64(w, "n", n);
    json_stream_string(w, "action", acl_action_name(rule->action));
    json_stream_u64(w, "ip_version", (uint64_t)rule->family);
    json_stream_string(w, "proto", "tcp");
    prefix_format(&rule->source, text, sizeof(text));
    json_stream_string(w, "source", text);
    if (rule->action == ACL_PERMIT)
        prefix_format(&rule->destination, text, sizeof(text));
    json_stream_string(w, "destination", rule->action == ACL_PERMIT ? text : NULL);
    json_stream_u64(w, "dport", 25);
    json_stream_string(w, "pool", policy->pools[rule->pool].name);
    json_stream_string(w, "msa", rule->action == ACL_PERMIT ? policy->msas[rule->msa].name : NULL);
    json_stream_string(w, "exempt_inside",
                       rule->action == ACL_EXEMPT ? policy->pools[rule->inside].name : NULL);
    const struct blocking_point *point = rule->blocking_point == POLICY_NO_INDEX
                                             ? NULL
                                             : &policy->blocking_points[rule->blocking_point];
    json_stream_string(w, "blocking_point", point == NULL ? NULL : point->name);
    json_stream_string(w, "state", point == NULL ? NULL : blocking_state_name(point->state));
    json_stream_object_end(w);
}

static void write_acl(struct json_stream *w, const struct report *report)
{
    const struct policy *policy = report->policy;
    const struct acl *acl = &report->acl;
    json_stream_object(w, "acl");
    write_acl_counts(w, acl);
    json_stream_array(w, "rules");
    for (size_t i = 0; i < acl->count; i++)
        write_acl_rule(w, policy, &acl->rules[i], i + 1);
    json_stream_array_end(w);
    char *nft = NULL;
    size_t length = 0;
    FILE *memory = open_memstream(&nft, &length);
    if (memory != NULL) {
        acl_write_nftables(acl, policy, memory);
        if (fclose(memory) == 0)
            json_stream_string(w, "nftables", nft);
    }
    free(nft);
    json_stream_object_end(w);
}

static void write_finding(struct json_stream *w, const struct report *report,
                          const struct finding *finding)
{
    const struct policy *policy = report->policy;
    const struct flow_tuple *flow = &finding->flow;
    struct address subscriber = finding_subscriber(finding);
    json_stream_object(w, NULL);
    json_stream_string(w, "type", event_type_name(finding->type));
    time_value(w, "ts", finding->ts);
    if (finding->has_flow) {
        address_value(w, "src_ip", &flow->src);
        json_stream_u64(w, "src_port", flow->src_port);
        address_value(w, "dst_ip", &flow->dst);
        json_stream_u64(w, "dst_port", flow->dst_port);
        json_stream_string(w, "proto", flow->proto == 17 ? "udp" : "tcp");
    }
    if (subscriber.family != 0)
        address_value(w, "subscriber", &subscriber);
    if (finding->pool >= 0) {
        json_stream_string(w, "pool", pool_name(policy, finding->pool));
        json_stream_string(w, "blocking_point", point_name(policy, finding->pool));
    }
    if (finding->segment >= 0)
        json_stream_string(w, "segment", segment_name(policy, finding->segment));
    if (finding->type == EVENT_BOT_SUSPECT)
        json_stream_fixed(w, "score", true, finding->as.bot.score, 2);
    char *fields = report_finding_fields(report, finding, true);
    json_stream_raw(w, "fields", fields != NULL ? fields : "{}");
    free(fields);
    json_stream_object_end(w);
}

static void write_suspects(struct json_stream *w, const struct report *report)
{
    size_t order[REPORT_TOP_SUSPECTS];
    size_t listed = report_top_suspects(report, order, REPORT_TOP_SUSPECTS);
    json_stream_object(w, "bot_suspects");
    json_stream_u64(w, "findings", report->findings_total[EVENT_BOT_SUSPECT]);
    json_stream_u64(w, "subscribers", report->suspect_count);
    json_stream_u64(w, "not_kept", report->suspects_not_kept);
    json_stream_array(w, "top");
    for (size_t i = 0; i < listed; i++)
        write_finding(w, report, &report->suspects[order[i]]);
    json_stream_array_end(w);
    json_stream_object_end(w);
}

static void write_findings(struct json_stream *w, const struct report *report)
{
    json_stream_object(w, "findings");
    for (int t = EVENT_FIRST_FINDING; t < EVENT_TYPE_COUNT; t++) {
        json_stream_object(w, event_type_name((enum event_type)t));
        json_stream_bool(w, "evasion", report_is_evasion((enum event_type)t));
        json_stream_u64(w, "total", report->findings_total[t]);
        json_stream_array(w, "listed");
        for (size_t i = 0; i < report->finding_count[t]; i++)
            write_finding(w, report, &report->findings[t][i]);
        json_stream_array_end(w);
        json_stream_object_end(w);
    }
    json_stream_object_end(w);
}

int report_write_json(const struct report *report, FILE *out)
{
    struct json_stream w;
    json_stream_init(&w, out);
    fputc('{', out);
    write_heading(&w, report);
    write_coverage(&w, report);
    write_timeline(&w, report);
    json_stream_object(&w, "impact");
    write_servers(&w, "third_party_msas", &report->third_party, false, true);
    write_servers(&w, "open_submission", &report->open_submission, true, false);
    write_servers(&w, "pop_before_smtp", &report->pop_before_smtp, false, false);
    json_stream_object_end(&w);
    write_acl(&w, report);
    write_suspects(&w, report);
    write_findings(&w, report);
    fputs("\n}\n", out);
    return 0;
}
