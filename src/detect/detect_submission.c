/* The submission family: judges what the attempt tracker (port 25) and mail_flows (587,
 * 465, POP3, IMAP, other ports) saw. Its own memory is two bounded tables in packet time,
 * servers (who reaches them on 587 and 465) and logins (for POP-before-SMTP), and one
 * window_set that lets each finding out once per key and window. */
#include "detect/detect_submission.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "record/finding.h"
#include "track/flow.h"
#include "policy/geoip.h"
#include "util/log.h"
#include "track/mail_flows.h"
#include "util/window_set.h"

/* A server's 587/465 record is kept this long after it was last used (packet time). */
#define SERVER_MEMORY (24 * 3600 * PACKET_TIME_SECOND)
#define SNI_KEPT SHARED_SNI_MAX
/* Provider keys of an autonomous system are told apart from address prefixes by this. */
#define PROVIDER_ASN 0xa5

/* Keys of the one-per-window set, one kind per finding. */
enum once_kind {
    ONCE_OPEN_SUBMISSION = 1, /* per server */
    ONCE_POP_BEFORE_SMTP,     /* per client and server */
    ONCE_THIRD_PARTY,         /* per subscriber and server */
};

struct server_record {
    uint32_t submission; /* connections from subscribers the server answered on 587 */
    uint32_t smtps;      /* ClientHellos from subscribers on 465 */
    char sni[SNI_KEPT];  /* the last server name a 465 ClientHello asked for */
};

struct login_record {
    packet_time at;
    struct address server;
    uint8_t protocol; /* enum mail_login_protocol */
    char mechanism[MAIL_LOGIN_MECHANISM_MAX];
};

struct submission_detector {
    struct detector base;
    const struct policy *policy;
    struct events *events;
    struct sensor_counters *counters;
    struct mail_flows *flows;
    struct flow_table *servers;
    struct server_record *server_records;
    struct flow_table *logins;
    struct login_record *login_records;
    struct window_set *once;
    /* --workers: where a finding keyed by a server is claimed over all workers, and the
     * other workers' subscribers' 587 and 465 connections come in (and ours go out). */
    struct once_share *shared_once;
    struct inbox_set *server_notes;
    uint64_t notes_lost; /* ours that another worker's full inbox refused */
    packet_time window_end;
};

static struct submission_detector *of(struct detector *detector)
{
    return (struct submission_detector *)detector;
}

void submission_provider_key(const struct policy *policy, const struct address *server,
                             struct address *key)
{
    memset(key, 0, sizeof(*key));
    struct geoip_result where;
    if (geoip_has(policy->geoip, GEOIP_ASN) && geoip_lookup(policy->geoip, server, &where) &&
        where.has_asn) {
        key->family = PROVIDER_ASN;
        memcpy(key->bytes, &where.asn, sizeof(where.asn));
        return;
    }
    key->family = server->family;
    memcpy(key->bytes, server->bytes, server->family == ADDRESS_V4 ? 3 : 6);
}

/* ---- Keys and tables ---- */

static void address_of(struct address *out, const uint8_t bytes[16], uint8_t family)
{
    out->family = family;
    memcpy(out->bytes, bytes, sizeof(out->bytes));
}

/* The provider's family (an ASN, or an address prefix) is the key's kind. */
static void login_key(struct flow_key *key, const struct address *client,
                      const struct address *provider)
{
    flow_key_make(key, provider->family, client, NULL, 0, 0);
    memcpy(key->server, provider->bytes, sizeof(key->server));
}

/* The entry for key, made (evicting the least recently used when full) if need be; the entry
 * goes to the tail of the list, so the head is always the oldest. NULL only if capacity 0. */
static struct flow *touch(struct submission_detector *detector, struct flow_table *table,
                          const struct flow_key *key, packet_time now, bool *created)
{
    uint32_t hash = flow_key_hash(key);
    struct flow *entry = flow_lookup(table, key, hash);
    *created = entry == NULL;
    if (entry == NULL) {
        entry = flow_insert(table, key, hash);
        if (entry == NULL) {
            struct flow *oldest = flow_list_head(table, FLOW_LIST_ACTIVE);
            if (oldest == NULL)
                return NULL;
            detector->counters->detector_evictions++;
            flow_remove(table, oldest);
            entry = flow_insert(table, key, hash);
        }
    }
    entry->last_packet = now;
    flow_list_append(table, entry, FLOW_LIST_ACTIVE);
    return entry;
}

static struct server_record *server_of(struct submission_detector *detector,
                                       const struct address *server, packet_time now, bool create)
{
    struct flow_key key;
    flow_key_make(&key, 0, server, NULL, 0, 0);
    if (!create) {
        struct flow *entry = flow_lookup(detector->servers, &key, flow_key_hash(&key));
        return entry != NULL ? &detector->server_records[flow_index(detector->servers, entry)]
                             : NULL;
    }
    bool created;
    struct flow *entry = touch(detector, detector->servers, &key, now, &created);
    if (entry == NULL)
        return NULL;
    struct server_record *record = &detector->server_records[flow_index(detector->servers, entry)];
    if (created)
        memset(record, 0, sizeof(*record));
    return record;
}

/* A subscriber's connection the server answered on 587, or its ClientHello on 465, seen
 * here or (told through the inbox) by another worker. */
static void count_server(struct submission_detector *detector,
                         const struct shared_server_note *note)
{
    struct server_record *record = server_of(detector, &note->server, note->ts, true);
    if (record == NULL)
        return;
    if (note->kind == SHARED_SUBMISSION) {
        record->submission++;
        return;
    }
    record->smtps++;
    /* Names past the record's room are cut: enough to recognise a server. */
    if (note->has_sni)
        snprintf(record->sni, sizeof(record->sni), "%s", note->sni);
}

static void note_server(struct submission_detector *detector, const struct address *server,
                        packet_time now, enum shared_server_kind kind, const char *sni)
{
    struct shared_server_note note = {.server = *server, .ts = now, .kind = (uint8_t)kind};
    if (sni != NULL) {
        note.has_sni = true;
        snprintf(note.sni, sizeof(note.sni), "%.*s", (int)sizeof(note.sni) - 1, sni);
    }
    count_server(detector, &note);
    if (detector->server_notes != NULL) {
        unsigned lost = inbox_post(detector->server_notes, &note);
        detector->notes_lost += lost;
        detector->counters->detector_exhausted += lost;
    }
}

/* The other workers' notes, before what is known of a server is read or judged. */
static void take_server_notes(struct submission_detector *detector)
{
    if (detector->server_notes == NULL)
        return;
    struct shared_server_note note;
    while (inbox_take(detector->server_notes, &note))
        count_server(detector, &note);
}

/* ---- Windows ---- */

static void roll_window(struct submission_detector *detector, packet_time now)
{
    packet_time window = detector->policy->thresholds.window;
    if (detector->window_end != 0 && now < detector->window_end)
        return;
    if (detector->window_end != 0)
        window_set_clear(detector->once);
    detector->window_end = (now / window + 1) * window;
}

/* True the first time in the window for this finding and key. */
static bool first_in_window(struct submission_detector *detector, enum once_kind kind,
                            const struct address *a, const struct address *b, packet_time now)
{
    roll_window(detector, now);
    struct address pair[2];
    memset(pair, 0, sizeof(pair));
    pair[0] = *a;
    if (b != NULL)
        pair[1] = *b;
    uint64_t key = window_set_hash(kind, pair, sizeof(pair));
    enum window_set_result result = window_set_add(detector->once, key);
    if (result == WINDOW_SET_FULL) {
        /* Better a repeated finding than a lost one. */
        detector->counters->detector_exhausted++;
        return true;
    }
    if (result != WINDOW_SET_ADDED)
        return false;
    /* A server's subscribers are spread over the workers; the others' are keyed by a
     * subscriber, whose packets all come to this one. */
    if (kind != ONCE_OPEN_SUBMISSION || detector->shared_once == NULL)
        return true;
    packet_time window = detector->policy->thresholds.window;
    enum once_claim claim =
        once_share_claim(detector->shared_once, key, (uint64_t)(detector->window_end / window));
    if (claim == ONCE_FULL)
        detector->counters->detector_exhausted++;
    return claim != ONCE_TAKEN;
}

/* ---- Findings ---- */

static void begin_flow_finding(struct finding *finding, enum event_type type,
                               const struct flow *flow, struct address *client,
                               struct address *server)
{
    address_of(client, flow->key.client, flow->key.family);
    address_of(server, flow->key.server, flow->key.family);
    finding_init(finding, type, flow->first_seen);
    finding_set_flow(finding, client, flow->key.client_port, server, flow->key.server_port,
                     IPPROTO_NUMBER_TCP);
    finding->pool = flow->pool;
    finding->segment = flow->segment;
}

static void add_msa(struct finding *finding, const struct policy *policy,
                    const struct address *server)
{
    int msa = policy_msa_of(policy, server);
    if (msa != POLICY_NO_INDEX)
        finding_string(finding, "msa", policy->msas[msa].name);
}

/* The dialogue, as the attempt event's smtp object has it (dashboards/events.md). */
static void add_smtp(struct finding *finding, const struct smtp_facts *smtp)
{
    finding_object_begin(finding, "smtp");
    if (smtp->banner_seen) {
        finding_string(finding, "banner", smtp->banner);
        finding_u64(finding, "banner_code", smtp->banner_code);
    }
    if (smtp->helo_seen) {
        finding_string(finding, "helo", smtp->helo);
        finding_string(finding, "helo_command", smtp->ehlo ? "EHLO" : "HELO");
    }
    finding_bool(finding, "auth", smtp->auth_success);
    if (smtp->auth_mechanism[0] != '\0')
        finding_string(finding, "auth_mechanism", smtp->auth_mechanism);
    finding_bool(finding, "starttls", smtp->starttls_accepted);
    if (smtp->mail_count > 0 && !smtp->mail_from_null && smtp->mail_from_domain[0] != '\0')
        finding_string(finding, "mail_from_domain", smtp->mail_from_domain);
    finding_u64(finding, "mail_count", smtp->mail_count);
    finding_u64(finding, "mail_accepted", smtp->mail_accepted);
    finding_u64(finding, "rcpt_count", smtp->rcpt_count);
    finding_u64(finding, "rcpt_accepted", smtp->rcpt_accepted);
    finding_u64(finding, "rcpt_rejected", smtp->rcpt_rejected);
    finding_u64(finding, "data_count", smtp->data_count);
    finding_u64(finding, "messages_accepted", smtp->messages_accepted);
    finding_end(finding);
}

/* An open submission server: MAIL FROM and RCPT TO answered 250 with no AUTH accepted, in
 * the clear (no STARTTLS hid the dialogue, so the capture can tell). */
static bool accepted_without_auth(const struct smtp_facts *smtp)
{
    return smtp != NULL && smtp->mail_accepted > 0 && smtp->rcpt_accepted > 0 &&
           !smtp->auth_success && !smtp->starttls_accepted && !smtp->encrypted;
}

static const struct login_record *login_before(struct submission_detector *detector,
                                               const struct address *client,
                                               const struct address *server, packet_time at)
{
    struct address provider;
    submission_provider_key(detector->policy, server, &provider);
    struct flow_key key;
    login_key(&key, client, &provider);
    struct flow *entry = flow_lookup(detector->logins, &key, flow_key_hash(&key));
    if (entry == NULL)
        return NULL;
    const struct login_record *login =
        &detector->login_records[flow_index(detector->logins, entry)];
    if (login->at > at || at - login->at > detector->policy->timeouts.pop_before_smtp)
        return NULL;
    return login;
}

/* An unauthenticated submission the server accepted: after a POP3/IMAP login from the same
 * address to the same provider it is POP-before-SMTP (draft 4.2: MSAs MUST NOT serve it);
 * otherwise, from an MSA (any server on 587, see on_event for 25), an open submission. */
static void judge_unauthenticated(struct submission_detector *detector, const struct flow *flow,
                                  const struct smtp_facts *smtp, bool known_msa)
{
    struct address client, server;
    address_of(&client, flow->key.client, flow->key.family);
    address_of(&server, flow->key.server, flow->key.family);
    const struct login_record *login = login_before(detector, &client, &server, flow->last_packet);
    struct finding finding;
    if (login != NULL) {
        if (!first_in_window(detector, ONCE_POP_BEFORE_SMTP, &client, &server, flow->last_packet))
            return;
        begin_flow_finding(&finding, EVENT_POP_BEFORE_SMTP, flow, &client, &server);
        add_msa(&finding, detector->policy, &server);
        finding_string(&finding, "login_protocol",
                       mail_login_protocol_name((enum mail_login_protocol)login->protocol));
        finding_address(&finding, "login_server", &login->server);
        finding_string(&finding, "login_mechanism", login->mechanism);
        finding_time(&finding, "login_ts", login->at);
        finding_number(&finding, "seconds_after_login",
                       (double)(flow->first_seen - login->at) / PACKET_TIME_SECOND, 3);
        add_smtp(&finding, smtp);
        event_finding(detector->events, &finding);
        return;
    }
    if (!known_msa ||
        !first_in_window(detector, ONCE_OPEN_SUBMISSION, &server, NULL, flow->last_packet))
        return;
    begin_flow_finding(&finding, EVENT_OPEN_SUBMISSION, flow, &client, &server);
    add_msa(&finding, detector->policy, &server);
    finding_bool(&finding, "offers_auth", smtp->ehlo_offers_auth);
    finding_bool(&finding, "offers_starttls", smtp->ehlo_offers_starttls);
    add_smtp(&finding, smtp);
    event_finding(detector->events, &finding);
}

/* A subscriber whose AUTH succeeded on port 25 of a server that is not its designated MSA:
 * a real user whom OP25B cuts off (draft 4.3, "submissions to third-party servers"), with
 * what is known of the server's 587 and 465 so far. */
static void judge_third_party(struct submission_detector *detector, const struct flow *flow,
                              const struct smtp_facts *smtp)
{
    struct address client, server;
    address_of(&client, flow->key.client, flow->key.family);
    address_of(&server, flow->key.server, flow->key.family);
    if (!first_in_window(detector, ONCE_THIRD_PARTY, &client, &server, flow->last_packet))
        return;
    take_server_notes(detector);
    const struct server_record *record = server_of(detector, &server, flow->last_packet, false);
    struct finding finding;
    begin_flow_finding(&finding, EVENT_THIRD_PARTY_SUBMISSION, flow, &client, &server);
    add_msa(&finding, detector->policy, &server);
    finding_string(&finding, "auth_mechanism", smtp->auth_mechanism);
    if (smtp->helo_seen)
        finding_string(&finding, "helo", smtp->helo);
    if (!smtp->mail_from_null && smtp->mail_from_domain[0] != '\0')
        finding_string(&finding, "mail_from_domain", smtp->mail_from_domain);
    finding_u64(&finding, "rcpt_accepted", smtp->rcpt_accepted);
    finding_u64(&finding, "messages_accepted", smtp->messages_accepted);
    finding_u64(&finding, "port_587_connections", record != NULL ? record->submission : 0);
    finding_u64(&finding, "port_465_connections", record != NULL ? record->smtps : 0);
    if (record != NULL && record->sni[0] != '\0')
        finding_string(&finding, "port_465_sni", record->sni);
    event_finding(detector->events, &finding);
}

/* RFC 5321 3.1 and 4.1.1.1: an SMTP dialogue is the server's 220 and the client's EHLO or
 * HELO; nDPI's word alone is not enough. */
static void judge_other_port(struct submission_detector *detector,
                             const struct mail_flow_report *report)
{
    const struct smtp_facts *smtp = report->smtp;
    if (smtp == NULL || !smtp->banner_seen || smtp->banner_code != 220 || !smtp->helo_seen)
        return;
    struct address client, server;
    struct finding finding;
    begin_flow_finding(&finding, EVENT_NONSTANDARD_PORT_SMTP, report->flow, &client, &server);
    finding_string(&finding, "protocol", report->protocol);
    finding_string(&finding, "close_reason", report->close_reason);
    add_smtp(&finding, smtp);
    event_finding(detector->events, &finding);
}

static void record_login(struct submission_detector *detector,
                         const struct mail_flow_report *report)
{
    const struct flow *flow = report->flow;
    struct address client, server, provider;
    address_of(&client, flow->key.client, flow->key.family);
    address_of(&server, flow->key.server, flow->key.family);
    submission_provider_key(detector->policy, &server, &provider);
    struct flow_key key;
    login_key(&key, &client, &provider);
    bool created;
    struct flow *entry = touch(detector, detector->logins, &key, report->now, &created);
    if (entry == NULL)
        return;
    struct login_record *login = &detector->login_records[flow_index(detector->logins, entry)];
    login->at = report->now;
    login->server = server;
    login->protocol = report->kind == MAIL_FLOW_IMAP ? MAIL_LOGIN_IMAP : MAIL_LOGIN_POP3;
    memcpy(login->mechanism, report->login->mechanism, sizeof(login->mechanism));
}

static void on_mail_flow(void *context, const struct mail_flow_report *report)
{
    struct submission_detector *detector = context;
    const struct flow *flow = report->flow;
    struct address server;
    address_of(&server, flow->key.server, flow->key.family);
    switch (report->moment) {
    case MAIL_FLOW_LOGIN:
        record_login(detector, report);
        return;
    case MAIL_FLOW_HELLO:
        if (flow->pool >= 0)
            note_server(detector, &server, report->now, SHARED_SMTPS,
                        report->hello->has_sni ? report->hello->sni : NULL);
        return;
    case MAIL_FLOW_CLOSED:
        break;
    }
    if (report->kind == MAIL_FLOW_OTHER_SMTP) {
        judge_other_port(detector, report);
        return;
    }
    if (report->kind != MAIL_FLOW_SUBMISSION)
        return;
    bool answered =
        (flow->flags & ATTEMPT_SYN_ACK_SEEN) || (report->smtp != NULL && report->smtp->banner_seen);
    if (answered && flow->pool >= 0)
        note_server(detector, &server, report->now, SHARED_SUBMISSION, NULL);
    if (accepted_without_auth(report->smtp))
        judge_unauthenticated(detector, flow, report->smtp, true);
}

/* Port 25, from the attempt tracker: dynamic subscribers only. */
static void on_event(void *context, enum event_type type, const void *data)
{
    struct submission_detector *detector = context;
    if (type != EVENT_ATTEMPT || data == NULL)
        return;
    const struct attempt_report *report = data;
    const struct smtp_facts *smtp = report->smtp;
    if (smtp == NULL)
        return;
    const struct flow *flow = report->flow;
    if (smtp->auth_success && !(flow->flags & ATTEMPT_TO_MSA))
        judge_third_party(detector, flow, smtp);
    /* On 25 a designated MSA may take its own customers' mail by their address (the seed
     * talk: "within the domain, port 25 submission is still accepted"), which the policy
     * says by listing 25 for their pool: only one taking mail from a pool it does not
     * serve there is open. */
    if (accepted_without_auth(smtp))
        judge_unauthenticated(detector, flow, smtp,
                              flow->msa >= 0 && !(flow->flags & ATTEMPT_TO_MSA));
}

/* ---- Detector ---- */

static void submission_packet(struct detector *base, const struct packet *packet, int segment)
{
    take_server_notes(of(base));
    mail_flows_packet(of(base)->flows, packet, segment);
}

static void expire(struct flow_table *table, packet_time memory, packet_time now)
{
    struct flow *entry;
    while ((entry = flow_list_head(table, FLOW_LIST_ACTIVE)) != NULL &&
           entry->last_packet + memory <= now)
        flow_remove(table, entry);
}

static void submission_advance(struct detector *base, packet_time now)
{
    struct submission_detector *detector = of(base);
    take_server_notes(detector);
    mail_flows_advance(detector->flows, now);
    expire(detector->logins, detector->policy->timeouts.pop_before_smtp, now);
    expire(detector->servers, SERVER_MEMORY, now);
    roll_window(detector, now);
    packet_time due = detector->window_end;
    packet_time deadlines[3] = {mail_flows_next_deadline(detector->flows),
                                flow_table_next_deadline(detector->logins),
                                flow_table_next_deadline(detector->servers)};
    for (int i = 0; i < 3; i++)
        due = deadlines[i] < due ? deadlines[i] : due;
    base->due = due;
}

static void submission_finish(struct detector *base, packet_time now, const char *reason)
{
    struct submission_detector *detector = of(base);
    mail_flows_finish(detector->flows, now, reason);
    if (detector->notes_lost > 0)
        log_message(LOG_WARNING,
                    "%llu connections to 587 or 465 not told to another worker: its inbox was "
                    "full (its third_party_submission findings count fewer)",
                    (unsigned long long)detector->notes_lost);
}

static void submission_free(struct detector *base)
{
    struct submission_detector *detector = of(base);
    if (detector == NULL)
        return;
    mail_flows_free(detector->flows);
    flow_table_free(detector->servers);
    flow_table_free(detector->logins);
    free(detector->server_records);
    free(detector->login_records);
    window_set_free(detector->once);
    free(detector);
}

static const struct detector_ops submission_ops = {
    .name = "submission",
    .packet = submission_packet,
    .advance = submission_advance,
    .finish = submission_finish,
    .free = submission_free,
};

/* Servers and logins: a sixteenth of the attempt table each, within these bounds. */
#define TABLE_MIN 256
#define TABLE_MAX 262144

struct detector *detect_submission_new(const struct detector_context *context, bool *disabled)
{
    const struct policy *policy = context->policy;
    *disabled = false;
    struct submission_detector *detector = calloc(1, sizeof(*detector));
    if (detector == NULL)
        return NULL;
    detector->base.ops = &submission_ops;
    detector->policy = policy;
    detector->events = context->events;
    detector->counters = context->counters;
    detector->shared_once = context->share != NULL ? context->share->findings : NULL;
    detector->server_notes = context->share != NULL ? context->share->servers : NULL;
    uint32_t capacity = policy->limits.flows / 16;
    capacity = capacity < TABLE_MIN ? TABLE_MIN : capacity > TABLE_MAX ? TABLE_MAX : capacity;
    detector->flows = mail_flows_new(policy, context->counters, on_mail_flow, detector);
    detector->servers = flow_table_new(capacity);
    detector->server_records = calloc(capacity, sizeof(struct server_record));
    detector->logins = flow_table_new(capacity);
    detector->login_records = calloc(capacity, sizeof(struct login_record));
    detector->once = window_set_new(TABLE_MIN, capacity);
    if (detector->flows == NULL || detector->servers == NULL || detector->server_records == NULL ||
        detector->logins == NULL || detector->login_records == NULL || detector->once == NULL)
        goto fail;
    mail_flows_watch(detector->flows, &detector->base.due);
    flow_table_set_timer(detector->logins, FLOW_LIST_ACTIVE, FLOW_TIME_LAST_PACKET,
                         policy->timeouts.pop_before_smtp, &detector->base.due);
    flow_table_set_timer(detector->servers, FLOW_LIST_ACTIVE, FLOW_TIME_LAST_PACKET,
                         SERVER_MEMORY, &detector->base.due);
    struct event_observer observer = {.notify = on_event, .context = detector};
    if (events_add_observer(context->events, observer) != 0)
        goto fail;
    return &detector->base;

fail:
    submission_free(&detector->base);
    return NULL;
}
