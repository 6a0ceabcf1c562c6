#include "record/finding_fields.h"

#include <stdio.h>

#include "decode/decode.h"
#include "record/smtp_fields.h"

#define MAC_TEXT_MAX 18

static void format_mac(const uint8_t mac[6], char text[MAC_TEXT_MAX])
{
    snprintf(text, MAC_TEXT_MAX, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
             mac[4], mac[5]);
}

/* Where the window's first packet was seen: enough to find the router port or the line. */
static void walk_layer2(const struct layer2_place *place, const struct field_walker *walker,
                        void *context)
{
    if (place->vlan_count > 0)
        walker->u64(context, "vlan", place->vlan[0]);
    if (place->vlan_count > 1)
        walker->u64(context, "inner_vlan", place->vlan[1]);
    if (place->has_pppoe)
        walker->u64(context, "pppoe_session", place->pppoe_session);
    if (place->has_mac) {
        char src_mac[MAC_TEXT_MAX], dst_mac[MAC_TEXT_MAX];
        format_mac(place->src_mac, src_mac);
        format_mac(place->dst_mac, dst_mac);
        walker->string(context, "src_mac", src_mac);
        walker->string(context, "dst_mac", dst_mac);
    }
}

static void walk_window(const struct finding *finding, const struct policy *policy,
                        const struct field_walker *walker, void *context)
{
    const struct window_finding *window = &finding->as.window;
    if (window->has_subscriber_prefix) {
        char text[PREFIX_TEXT_MAX];
        prefix_format(&window->subscriber_prefix, text, sizeof(text));
        walker->string(context, "subscriber_prefix", text);
    }
    if (finding->type == EVENT_ASYMMETRIC_ROUTING) {
        walker->list_begin(context, "expected_segments");
        for (size_t i = 0; i < window->expected_count; i++)
            walker->string(context, NULL, policy->segments[window->expected[i]].name);
        walker->list_end(context);
    }
    if (finding->type == EVENT_INBOUND_ACL_VIOLATION && window->msa >= 0)
        walker->string(context, "msa", policy->msas[window->msa].name);
    walker->u64(context, "count", window->count);
    if (finding->type == EVENT_INBOUND_ACL_VIOLATION) {
        walker->u64(context, "syn_ack_count", window->syn_ack_count);
        walker->u64(context, "rst_count", window->rst_count);
        walker->u64(context, "payload_packets", window->payload_packets);
        walker->u64(context, "payload_bytes", window->payload_bytes);
        walker->boolean(context, "backscatter", window->backscatter);
        walker->boolean(context, "ports_varied", window->ports_varied);
    } else {
        walker->u64(context, "syn_count", window->syn_count);
        walker->u64(context, "payload_packets", window->payload_packets);
    }
    walker->time(context, "first_seen", window->first_seen);
    walker->time(context, "last_seen", window->last_seen);
    walk_layer2(&window->layer2, walker, context);
    walker->string(context, "close_reason", window->close_reason);
}

static void walk_triangular(const struct triangular_finding *triangle, const struct policy *policy,
                            const struct field_walker *walker, void *context)
{
    walker->address(context, "relay_ip", &triangle->relay);
    walker->string(context, "variant", triangle->tunnelled ? "tunnelled" : "rewritten");
    if (triangle->tunnelled) {
        walker->string(context, "tunnel", tunnel_kind_name((enum tunnel_kind)triangle->tunnel));
        walker->address(context, "tunnel_src", &triangle->tunnel_src);
    }
    if (triangle->reply_segment >= 0)
        walker->string(context, "reply_segment", policy->segments[triangle->reply_segment].name);
    walker->u64(context, "isn", triangle->isn);
    walker->u64(context, "syn_count", triangle->syn_count);
    walker->time(context, "reply_seen", triangle->reply_seen);
}

static void walk_bot(const struct bot_finding *bot, const struct field_walker *walker,
                     void *context)
{
    const struct bot_features *features = &bot->features;
    char subscriber[PREFIX_TEXT_MAX];
    if (bot->subscriber.address.family == ADDRESS_V6)
        prefix_format(&bot->subscriber, subscriber, sizeof(subscriber));
    else
        address_format(&bot->subscriber.address, subscriber, sizeof(subscriber));
    walker->address(context, "src_ip", &bot->address);
    walker->string(context, "subscriber", subscriber);
    walker->time(context, "window_start", bot->window_start);
    walker->time(context, "window_end", bot->window_end);
    walker->fixed(context, "score", bot->score, 1);
    walker->u64(context, "score_threshold", bot->score_threshold);
    walker->object_begin(context, "features");
    walker->u64(context, "attempts", features->attempts);
    walker->u64(context, "fanout", features->fanout);
    walker->u64(context, "mx_direct", features->mx_direct);
    walker->u64(context, "nonstandard_smtp", features->nonstandard_smtp);
    walker->u64(context, "rcpt_accepted", features->rcpt_accepted);
    walker->u64(context, "rcpt_rejected", features->rcpt_rejected);
    walker->u64(context, "messages", features->messages);
    walker->u64(context, "deferred", features->deferred);
    walker->u64(context, "odd_helo", features->odd_helo);
    walker->boolean(context, "receives_smtp", features->receives_smtp);
    if (features->fanout_capped)
        walker->boolean(context, "fanout_capped", true);
    if (features->msa_abuse > 0)
        walker->u64(context, "msa_abuse", features->msa_abuse);
    walker->object_end(context);
    if (features->odd_helo > 0) {
        walker->string(context, "odd_helo_example", bot->odd_helo);
        walker->string(context, "odd_helo_kind", bot->odd_helo_kind);
    }
}

static void walk_msa(const struct submission_finding *submission, const struct policy *policy,
                     const struct field_walker *walker, void *context)
{
    if (submission->msa >= 0)
        walker->string(context, "msa", policy->msas[submission->msa].name);
}

static void walk_third_party(const struct submission_finding *submission,
                             const struct field_walker *walker, void *context)
{
    const struct smtp_facts *smtp = &submission->smtp;
    walker->string(context, "auth_mechanism", smtp->auth_mechanism);
    if (smtp->helo_seen)
        walker->string(context, "helo", smtp->helo);
    if (!smtp->mail_from_null && smtp->mail_from_domain[0] != '\0')
        walker->string(context, "mail_from_domain", smtp->mail_from_domain);
    walker->u64(context, "rcpt_accepted", smtp->rcpt_accepted);
    walker->u64(context, "messages_accepted", smtp->messages_accepted);
    walker->u64(context, "port_587_connections", submission->port_587_connections);
    walker->u64(context, "port_465_connections", submission->port_465_connections);
    if (submission->port_465_sni[0] != '\0')
        walker->string(context, "port_465_sni", submission->port_465_sni);
}

static void walk_submission(const struct finding *finding, const struct policy *policy,
                            const struct field_walker *walker, void *context)
{
    const struct submission_finding *submission = &finding->as.submission;
    switch (finding->type) {
    case EVENT_NONSTANDARD_PORT_SMTP:
        walker->string(context, "protocol", submission->protocol);
        walker->string(context, "close_reason", submission->close_reason);
        break;
    case EVENT_OPEN_SUBMISSION:
        walk_msa(submission, policy, walker, context);
        walker->boolean(context, "offers_auth", submission->smtp.ehlo_offers_auth);
        walker->boolean(context, "offers_starttls", submission->smtp.ehlo_offers_starttls);
        break;
    case EVENT_POP_BEFORE_SMTP:
        walk_msa(submission, policy, walker, context);
        walker->string(context, "login_protocol", submission->login_protocol);
        walker->address(context, "login_server", &submission->login_server);
        walker->string(context, "login_mechanism", submission->login_mechanism);
        walker->time(context, "login_ts", submission->login_ts);
        walker->fixed(context, "seconds_after_login",
                      (double)(finding->ts - submission->login_ts) / PACKET_TIME_SECOND, 3);
        break;
    case EVENT_THIRD_PARTY_SUBMISSION:
        walk_msa(submission, policy, walker, context);
        walk_third_party(submission, walker, context);
        return; /* its dialogue is told by the fields above, without an smtp object */
    default:
        return;
    }
    smtp_fields_walk(&submission->smtp, SMTP_FIELDS_FINDING, false, walker, context);
}

/* A subscriber as events name it: its IPv4 address, or its IPv6 prefix. */
static void format_subscriber(const struct prefix *subscriber, char text[PREFIX_TEXT_MAX])
{
    if (subscriber->address.family == ADDRESS_V6)
        prefix_format(subscriber, text, PREFIX_TEXT_MAX);
    else
        address_format(&subscriber->address, text, PREFIX_TEXT_MAX);
}

const char *msa_abuse_reason_name(enum msa_abuse_reason reason)
{
    static const char *const names[MSA_ABUSE_REASONS] = {
        "connections", "concurrency", "auth_failures", "quota_replies", "rcpt", "tls_guessing"};
    return (unsigned)reason < MSA_ABUSE_REASONS ? names[reason] : "unknown";
}

static void walk_msa_abuse(const struct msa_abuse_finding *abuse, const struct policy *policy,
                           const struct field_walker *walker, void *context)
{
    char subscriber[PREFIX_TEXT_MAX];
    format_subscriber(&abuse->subscriber, subscriber);
    walker->address(context, "src_ip", &abuse->address);
    walker->string(context, "subscriber", subscriber);
    if (abuse->msa >= 0)
        walker->string(context, "msa", policy->msas[abuse->msa].name);
    walker->time(context, "window_start", abuse->window_start);
    walker->time(context, "window_end", abuse->window_end);
    walker->list_begin(context, "exceeded");
    for (int reason = 0; reason < MSA_ABUSE_REASONS; reason++) {
        if (abuse->reasons & (1u << reason))
            walker->string(context, NULL, msa_abuse_reason_name((enum msa_abuse_reason)reason));
    }
    walker->list_end(context);
    walker->u64(context, "connections", abuse->connections);
    walker->u64(context, "connections_25", abuse->connections_25);
    walker->u64(context, "connections_587", abuse->connections_587);
    walker->u64(context, "connections_465", abuse->connections_465);
    walker->u64(context, "peak_concurrency", abuse->peak_concurrency);
    walker->u64(context, "auth_failures", abuse->auth_failures);
    walker->u64(context, "quota_replies", abuse->quota_replies);
    walker->u64(context, "rcpt", abuse->rcpt);
    walker->u64(context, "clear_dialogues", abuse->clear_dialogues);
    walker->u64(context, "tls_connections", abuse->tls_connections);
    walker->u64(context, "tls_short", abuse->tls_short);
    if (abuse->tls_short > 0) {
        walker->u64(context, "tls_similar", abuse->tls_similar);
        walker->u64(context, "tls_similar_client_bytes", abuse->tls_similar_bytes);
    }
}

/* The credentials are never among the facts (smtp.h): only the mechanism's name. */
static void walk_cleartext_auth(const struct finding *finding, const struct policy *policy,
                                const struct field_walker *walker, void *context)
{
    const struct submission_finding *submission = &finding->as.submission;
    if (finding->pool >= 0) {
        char subscriber[PREFIX_TEXT_MAX];
        struct prefix prefix = policy_subscriber(policy, finding->pool, &finding->flow.src);
        format_subscriber(&prefix, subscriber);
        walker->string(context, "subscriber", subscriber);
    }
    walk_msa(submission, policy, walker, context);
    walker->string(context, "mechanism", submission->smtp.auth_mechanism);
    walker->boolean(context, "auth", submission->smtp.auth_success);
    walker->boolean(context, "offers_starttls", submission->smtp.ehlo_offers_starttls);
}

/* What refused the connection, whom it cut off, and what showed it; the server and port are
 * the flow's. */
static void walk_collateral(const struct collateral_finding *collateral,
                            const struct policy *policy, const struct field_walker *walker,
                            void *context)
{
    char subscriber[PREFIX_TEXT_MAX];
    format_subscriber(&collateral->subscriber, subscriber);
    walker->string(context, "reason",
                   collateral_reason_name((enum collateral_reason)collateral->reason));
    walker->string(context, "evidence",
                   collateral_evidence_name((enum collateral_evidence)collateral->evidence));
    walker->string(context, "subscriber", subscriber);
    if (collateral->msa >= 0 && (size_t)collateral->msa < policy->msa_count)
        walker->string(context, "msa", policy->msas[collateral->msa].name);
    walker->u64(context, "syn_count", collateral->syn_count);
    walker->time(context, "last_syn", collateral->last_syn);
    if (collateral->icmp_seen) {
        walker->u64(context, "icmp_type", collateral->icmp_type);
        walker->u64(context, "icmp_code", collateral->icmp_code);
        walker->address(context, "icmp_from", &collateral->icmp_from);
    }
}

void finding_walk(const struct finding *finding, const struct policy *policy,
                  const struct field_walker *walker, void *context)
{
    switch (finding->type) {
    case EVENT_ASYMMETRIC_ROUTING:
    case EVENT_SPOOFED_SOURCE:
    case EVENT_INBOUND_ACL_VIOLATION:
        walk_window(finding, policy, walker, context);
        return;
    case EVENT_TRIANGULAR_SPAM:
        walk_triangular(&finding->as.triangular, policy, walker, context);
        return;
    case EVENT_BOT_SUSPECT:
        walk_bot(&finding->as.bot, walker, context);
        return;
    case EVENT_NONSTANDARD_PORT_SMTP:
    case EVENT_OPEN_SUBMISSION:
    case EVENT_POP_BEFORE_SMTP:
    case EVENT_THIRD_PARTY_SUBMISSION:
        walk_submission(finding, policy, walker, context);
        return;
    case EVENT_MSA_ABUSE:
        walk_msa_abuse(&finding->as.msa_abuse, policy, walker, context);
        return;
    case EVENT_CLEARTEXT_AUTH:
        walk_cleartext_auth(finding, policy, walker, context);
        return;
    case EVENT_COLLATERAL_BLOCK:
        walk_collateral(&finding->as.collateral, policy, walker, context);
        return;
    case EVENT_SUBMISSION_MIGRATION:
        migration_walk(&finding->as.migration, policy, walker, context);
        return;
    default:
        return;
    }
}
