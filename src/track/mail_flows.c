#include "track/mail_flows.h"

#include <stdlib.h>
#include <string.h>

#include "proto/dns.h"
#include "proto/ndpi_classify.h"
#include "track/flow.h"
#include "util/slot_pool.h"
#include "track/tcp_reorder.h"
#include "track/tcp_stream.h"

/* A quarter of the attempts or SMTP dialogues the tracker may hold, whichever is fewer,
 * within these bounds. */
#define MAIL_FLOWS_MIN 256
#define MAIL_FLOWS_MAX 65536
/* Flows nDPI classifies at once: a flow holds its slot only until its first payloads. */
#define CLASSIFIER_SLOTS_MAX 4096
/* Connections with a hole in a stream at once (tcp_reorder.h): holes are rare. */
#define REORDER_SLOTS_MIN 16
#define REORDER_SLOTS_MAX 1024
#define FLUSH_ALL (-1) /* flush_held: both directions */
/* Client bytes kept to find a ClientHello's SNI: most hellos fit; one that does not is
 * counted without its name. */
#define HELLO_BUFFER 2048

#define NONE UINT32_MAX
/* Counters of flows per bucket of a hash of the flow as its client opened it. A packet is
 * looked up as the client's only when its own bucket is taken, and as the server's only
 * when the reversed one is: most packets belong to no flow here and cost two counter reads,
 * and a packet of a flow one lookup. 64 KiB: large enough that the ~1,500 connections
 * held at 1 Mpps (benchmark mix) leave 1 bucket in 40 taken, small enough for L2. A counter
 * that reaches its top stays there (that bucket is then always looked up), so it never
 * wraps to a false "empty". */
#define PRESENCE_BUCKETS (1u << 16)
#define PRESENCE_STUCK UINT8_MAX

/* Ports known by number (IANA): mail, and what nDPI need not be asked about. */
#define PORT_POP3S 995
#define PORT_IMAPS 993

union mail_parser {
    struct smtp_session smtp;
    struct mail_login_session login;
    struct {
        uint16_t length;
        uint8_t bytes[HELLO_BUFFER];
    } hello;
};

/* The two lists: connections with no answer yet run timeouts.syn from their last SYN;
 * answered ones run timeouts.smtp_idle. */
enum { LIST_PENDING = 0, LIST_ACTIVE = 1 };

enum mail_flow_flag {
    FLAG_SYN_ACK_SEEN = 0x01,
    FLAG_CLIENT_FIN = 0x02,
    FLAG_SERVER_FIN = 0x04,
    FLAG_CLIENT_STREAM = 0x08, /* client_next is known */
    FLAG_SERVER_STREAM = 0x10, /* server_next is known */
    FLAG_NO_PARSER = 0x20,     /* the dialogue could not be parsed: no parser was free */
};

/* What the table keeps of a connection, beside its flow entry (whose mark is the last
 * SYN). */
struct mail_flow {
    uint32_t client_isn;
    uint32_t client_next; /* next sequence numbers expected (stream order) */
    uint32_t server_next;
    uint32_t client_bytes;
    uint32_t server_bytes;
    uint32_t parser;     /* slot in parsers, or NONE */
    uint32_t classifier; /* nDPI slot, or NONE */
    uint32_t reorder;    /* held segments' slot, or TCP_REORDER_NONE */
    uint16_t syn_count;
    int16_t pool;
    int8_t segment;
    uint8_t flags; /* enum mail_flow_flag */
    uint8_t kind;  /* enum mail_flow_kind */
    bool hello_done;
    bool login_reported;
};

static inline struct mail_flow *MF(const struct flow *flow)
{
    return flow_record(flow);
}

struct mail_flows {
    const struct policy *policy;
    struct sensor_counters *counters;
    mail_flow_handler handler;
    void *context;
    struct flow_table *table; /* records: struct mail_flow */
    union mail_parser *parsers;
    struct slot_pool parser_slots;
    uint32_t capacity;
    struct ndpi_classifier *classifier;
    struct tcp_reorder_pool *reorder;
    uint8_t presence[PRESENCE_BUCKETS];
};

bool mail_flows_port_is_known(uint16_t port)
{
    switch (port) {
    case MAIL_PORT_SMTP:
    case MAIL_PORT_SUBMISSION:
    case MAIL_PORT_SMTPS:
    case MAIL_PORT_POP3:
    case MAIL_PORT_IMAP:
    case PORT_POP3S:
    case PORT_IMAPS:
    case DNS_PORT:
        return true;
    default:
        return false;
    }
}

struct mail_flows *mail_flows_new(const struct policy *policy, struct sensor_counters *counters,
                                  mail_flow_handler handler, void *context)
{
    struct mail_flows *flows = calloc(1, sizeof(*flows));
    if (flows == NULL)
        return NULL;
    flows->policy = policy;
    flows->counters = counters;
    flows->handler = handler;
    flows->context = context;
    uint32_t bound = policy->limits.sessions < policy->limits.flows ? policy->limits.sessions
                                                                    : policy->limits.flows;
    uint32_t capacity = bound / 4;
    capacity = capacity < MAIL_FLOWS_MIN   ? MAIL_FLOWS_MIN
               : capacity > MAIL_FLOWS_MAX ? MAIL_FLOWS_MAX
                                           : capacity;
    flows->capacity = capacity;
    flows->table = flow_table_new(capacity, sizeof(struct mail_flow));
    flows->parsers = calloc(capacity, sizeof(union mail_parser));
    if (slot_pool_init(&flows->parser_slots, capacity) != 0 || flows->table == NULL ||
        flows->parsers == NULL)
        goto fail;
    flows->classifier =
        ndpi_classifier_new(capacity < CLASSIFIER_SLOTS_MAX ? capacity : CLASSIFIER_SLOTS_MAX);
    uint32_t reorder_slots = capacity / 64;
    reorder_slots = reorder_slots < REORDER_SLOTS_MIN   ? REORDER_SLOTS_MIN
                    : reorder_slots > REORDER_SLOTS_MAX ? REORDER_SLOTS_MAX
                                                        : reorder_slots;
    flows->reorder = tcp_reorder_new(reorder_slots, &counters->stream_reordered);
    if (flows->classifier == NULL || flows->reorder == NULL)
        goto fail;
    return flows;

fail:
    mail_flows_free(flows);
    return NULL;
}

void mail_flows_free(struct mail_flows *flows)
{
    if (flows == NULL)
        return;
    ndpi_classifier_free(flows->classifier);
    tcp_reorder_free(flows->reorder);
    flow_table_free(flows->table);
    free(flows->parsers);
    slot_pool_free(&flows->parser_slots);
    free(flows);
}

static uint64_t fold(const uint8_t bytes[16])
{
    uint64_t high, low;
    memcpy(&high, bytes, 8);
    memcpy(&low, bytes + 8, 8);
    return high ^ low;
}

/* Ordered: (client, server) and (server, client) fall in different buckets. */
static uint32_t presence_bucket(const uint8_t client[16], uint16_t client_port,
                                const uint8_t server[16], uint16_t server_port)
{
    uint64_t b = fold(server);
    uint64_t x = fold(client) ^ ((b << 23) | (b >> 41)) ^ ((uint64_t)client_port << 48) ^
                 ((uint64_t)server_port << 32);
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 31;
    x *= UINT64_C(0x9e3779b97f4a7c15);
    x ^= x >> 29;
    return (uint32_t)x & (PRESENCE_BUCKETS - 1);
}

static uint8_t *presence_of(struct mail_flows *flows, const struct flow_key *key)
{
    return &flows->presence[presence_bucket(key->client, key->client_port, key->server,
                                            key->server_port)];
}

static union mail_parser *parser_of(struct mail_flows *flows, struct flow *flow)
{
    struct mail_flow *state = MF(flow);
    if (state->parser != NONE)
        return &flows->parsers[state->parser];
    if (state->flags & FLAG_NO_PARSER)
        return NULL;
    uint32_t slot = slot_pool_take(&flows->parser_slots);
    if (slot == SLOT_POOL_NONE) {
        /* Every flow holds at most one parser, so this cannot happen; kept for safety. */
        state->flags |= FLAG_NO_PARSER;
        flows->counters->detector_exhausted++;
        return NULL;
    }
    state->parser = slot;
    union mail_parser *parser = &flows->parsers[slot];
    switch ((enum mail_flow_kind)state->kind) {
    case MAIL_FLOW_POP3:
        mail_login_init(&parser->login, MAIL_LOGIN_POP3);
        break;
    case MAIL_FLOW_IMAP:
        mail_login_init(&parser->login, MAIL_LOGIN_IMAP);
        break;
    case MAIL_FLOW_SMTPS:
        parser->hello.length = 0;
        break;
    case MAIL_FLOW_SUBMISSION:
    case MAIL_FLOW_CANDIDATE:
    case MAIL_FLOW_OTHER_SMTP:
        smtp_session_init(&parser->smtp);
        break;
    }
    return parser;
}

static void release(struct mail_flows *flows, struct flow *flow)
{
    struct mail_flow *state = MF(flow);
    if (state->parser != NONE)
        slot_pool_give(&flows->parser_slots, state->parser);
    if (state->classifier != NONE)
        ndpi_classifier_end(flows->classifier, state->classifier);
    state->parser = state->classifier = NONE;
    tcp_reorder_discard(flows->reorder, &state->reorder);
    uint8_t *presence = presence_of(flows, &flow->key);
    if (*presence != PRESENCE_STUCK)
        (*presence)--;
    flow_remove(flows->table, flow);
}

static void report(struct mail_flows *flows, struct flow *flow, enum mail_flow_moment moment,
                   packet_time now, const char *reason)
{
    struct mail_flow *state = MF(flow);
    union mail_parser *parser = state->parser != NONE ? &flows->parsers[state->parser] : NULL;
    struct tls_hello hello;
    struct mail_flow_report out = {
        .moment = moment,
        .kind = (enum mail_flow_kind)state->kind,
        .now = now,
        .pool = state->pool,
        .segment = state->segment,
        .first_seen = flow->first_seen,
        .last_seen = flow->last_seen,
        .answered = (state->flags & FLAG_SYN_ACK_SEEN) != 0,
        .close_reason = reason,
        .client_bytes = state->client_bytes,
        .server_bytes = state->server_bytes,
    };
    flow_key_tuple(&flow->key, &out.flow);
    switch (out.kind) {
    case MAIL_FLOW_SUBMISSION:
    case MAIL_FLOW_OTHER_SMTP:
        out.smtp = parser != NULL ? &parser->smtp.facts : NULL;
        break;
    case MAIL_FLOW_POP3:
    case MAIL_FLOW_IMAP:
        out.login = parser != NULL ? &parser->login.facts : NULL;
        break;
    case MAIL_FLOW_SMTPS:
        if (moment == MAIL_FLOW_HELLO && parser != NULL &&
            tls_hello_parse(parser->hello.bytes, parser->hello.length, true, &hello) ==
                TLS_HELLO_OK)
            out.hello = &hello;
        break;
    case MAIL_FLOW_CANDIDATE:
        break;
    }
    if (out.kind == MAIL_FLOW_OTHER_SMTP)
        out.protocol = "SMTP";
    flows->handler(flows->context, &out);
}

/* A candidate nDPI did not take for SMTP leaves without a word: it is no mail flow. */
static void flush_held(struct mail_flows *flows, struct flow *flow, packet_time now, int fed);

static void close_flow(struct mail_flows *flows, struct flow *flow, packet_time now,
                       const char *reason)
{
    struct mail_flow *state = MF(flow);
    flush_held(flows, flow, now, FLUSH_ALL);
    if (state->kind == MAIL_FLOW_CANDIDATE && state->classifier != NONE &&
        ndpi_classifier_giveup(flows->classifier, state->classifier) == NDPI_CLASSIFY_SMTP)
        state->kind = MAIL_FLOW_OTHER_SMTP;
    if (state->kind != MAIL_FLOW_CANDIDATE)
        report(flows, flow, MAIL_FLOW_CLOSED, now, reason);
    release(flows, flow);
}

void mail_flows_watch(struct mail_flows *flows, packet_time *due)
{
    const struct policy *policy = flows->policy;
    flow_table_set_timer(flows->table, LIST_PENDING, FLOW_TIME_MARK, policy->timeouts.syn, due);
    flow_table_set_timer(flows->table, LIST_ACTIVE, FLOW_TIME_LAST_SEEN, policy->timeouts.smtp_idle,
                         due);
}

packet_time mail_flows_next_deadline(const struct mail_flows *flows)
{
    return flow_table_next_deadline(flows->table);
}

void mail_flows_advance(struct mail_flows *flows, packet_time now)
{
    const struct policy *policy = flows->policy;
    struct flow *flow;
    while ((flow = flow_list_head(flows->table, LIST_PENDING)) != NULL &&
           flow->mark + policy->timeouts.syn <= now)
        close_flow(flows, flow, now, "syn_timeout");
    while ((flow = flow_list_head(flows->table, LIST_ACTIVE)) != NULL &&
           flow->last_seen + policy->timeouts.smtp_idle <= now)
        close_flow(flows, flow, now, "idle");
}

void mail_flows_finish(struct mail_flows *flows, packet_time now, const char *reason)
{
    for (unsigned list = 0; list < FLOW_LISTS; list++) {
        struct flow *flow;
        while ((flow = flow_list_head(flows->table, list)) != NULL)
            close_flow(flows, flow, now, reason);
    }
}

static bool is_ours(const struct policy *policy, const struct address *address, int *pool)
{
    *pool = policy_pool_of(policy, address);
    return *pool != POLICY_NO_INDEX || policy_is_own(policy, address);
}

/* Which kind of flow a SYN opens, if the family follows it at all. */
static bool kind_of_syn(const struct policy *policy, const struct packet *packet, int *pool,
                        enum mail_flow_kind *kind)
{
    bool ours = is_ours(policy, &packet->src, pool);
    switch (packet->dst_port) {
    case MAIL_PORT_SUBMISSION:
        /* Also from outside to a designated MSA: an open one serves the whole Internet. */
        *kind = MAIL_FLOW_SUBMISSION;
        return ours || policy_msa_of(policy, &packet->dst) != POLICY_NO_INDEX;
    case MAIL_PORT_SMTPS:
        *kind = MAIL_FLOW_SMTPS;
        return ours;
    case MAIL_PORT_POP3:
        *kind = MAIL_FLOW_POP3;
        return ours;
    case MAIL_PORT_IMAP:
        *kind = MAIL_FLOW_IMAP;
        return ours;
    default:
        *kind = MAIL_FLOW_CANDIDATE;
        return !mail_flows_port_is_known(packet->dst_port) && *pool != POLICY_NO_INDEX &&
               policy->pools[*pool].type == POOL_DYNAMIC;
    }
}

static struct flow *create(struct mail_flows *flows, const struct packet *packet, int segment)
{
    int pool;
    enum mail_flow_kind kind;
    if (!kind_of_syn(flows->policy, packet, &pool, &kind))
        return NULL;
    struct flow_key key;
    flow_key_make(&key, IPPROTO_NUMBER_TCP, &packet->src, &packet->dst, packet->src_port,
                  packet->dst_port);
    uint32_t hash = flow_key_hash(&key);
    struct flow *flow = flow_insert(flows->table, &key, hash);
    if (flow == NULL) {
        /* Full: the oldest unanswered SYN goes first, then the longest idle connection. */
        struct flow *victim = flow_list_head(flows->table, LIST_PENDING);
        if (victim == NULL)
            victim = flow_list_head(flows->table, LIST_ACTIVE);
        if (victim != NULL) {
            flows->counters->detector_evictions++;
            close_flow(flows, victim, packet->ts, "evicted");
            flow = flow_insert(flows->table, &key, hash);
        }
        if (flow == NULL)
            return NULL;
    }
    uint8_t *presence = presence_of(flows, &flow->key);
    if (*presence != PRESENCE_STUCK)
        (*presence)++;
    struct mail_flow *state = MF(flow);
    state->kind = (uint8_t)kind;
    state->parser = state->classifier = NONE;
    state->reorder = TCP_REORDER_NONE;
    state->pool = (int16_t)pool;
    state->segment = (int8_t)segment;
    flow->first_seen = flow->last_seen = flow->mark = packet->ts;
    state->flags = FLAG_CLIENT_STREAM;
    state->client_isn = packet->seq;
    state->client_next = packet->seq + 1;
    state->syn_count = 1;
    flow_list_append(flows->table, flow, LIST_PENDING);
    return flow;
}

/* cut: the bytes after these were not captured, so the hello is read with what there is. */
static void feed_hello(struct mail_flows *flows, struct flow *flow, union mail_parser *parser,
                       const uint8_t *bytes, size_t length, bool cut, packet_time now)
{
    struct mail_flow *state = MF(flow);
    if (state->hello_done)
        return;
    size_t room = HELLO_BUFFER - parser->hello.length;
    size_t taken = length < room ? length : room;
    memcpy(parser->hello.bytes + parser->hello.length, bytes, taken);
    parser->hello.length = (uint16_t)(parser->hello.length + taken);
    struct tls_hello hello;
    enum tls_hello_result result =
        tls_hello_parse(parser->hello.bytes, parser->hello.length,
                        cut || parser->hello.length == HELLO_BUFFER, &hello);
    if (result == TLS_HELLO_NEED_MORE)
        return;
    state->hello_done = true;
    if (result == TLS_HELLO_OK)
        report(flows, flow, MAIL_FLOW_HELLO, now, NULL);
}

static void feed_smtp(struct smtp_session *smtp, bool from_client,
                      const struct tcp_stream_slice *slice, const uint8_t *bytes)
{
    if (from_client) {
        if (slice->gap)
            smtp_client_gap(smtp);
        smtp_client_bytes(smtp, bytes, slice->length);
        smtp_client_missing(smtp, slice->missing);
    } else {
        if (slice->gap)
            smtp_server_gap(smtp);
        smtp_server_bytes(smtp, bytes, slice->length);
        smtp_server_missing(smtp, slice->missing);
    }
}

/* POP3 and IMAP lines: bytes cut off after these are a gap before the next ones. */
static void feed_login(struct mail_login_session *login, bool from_client,
                       const struct tcp_stream_slice *slice, const uint8_t *bytes)
{
    void (*gap)(struct mail_login_session *) =
        from_client ? mail_login_client_gap : mail_login_server_gap;
    if (slice->gap)
        gap(login);
    if (from_client)
        mail_login_client_bytes(login, bytes, slice->length);
    else
        mail_login_server_bytes(login, bytes, slice->length);
    if (slice->missing > 0)
        gap(login);
}

/* What a delivery needs besides the segment (tcp_reorder_deliver's context). */
struct stream_context {
    struct mail_flows *flows;
    struct flow *flow;
    packet_time now;
};

/* One segment in stream order, its new bytes counted as the wire carried them. */
static void deliver_segment(void *context, unsigned direction, const struct tcp_segment *segment)
{
    struct stream_context *stream = context;
    struct mail_flows *flows = stream->flows;
    struct flow *flow = stream->flow;
    struct mail_flow *state = MF(flow);
    bool from_client = direction == 0;
    uint32_t *next = from_client ? &state->client_next : &state->server_next;
    struct tcp_stream_slice slice = tcp_stream_accept(next, segment);
    if (from_client)
        state->client_bytes += slice.length + slice.missing;
    else
        state->server_bytes += slice.length + slice.missing;
    union mail_parser *parser = parser_of(flows, flow);
    if (parser == NULL)
        return;
    const uint8_t *bytes = segment->data + slice.skip;
    switch ((enum mail_flow_kind)state->kind) {
    case MAIL_FLOW_SUBMISSION:
    case MAIL_FLOW_CANDIDATE:
    case MAIL_FLOW_OTHER_SMTP:
        feed_smtp(&parser->smtp, from_client, &slice, bytes);
        break;
    case MAIL_FLOW_POP3:
    case MAIL_FLOW_IMAP:
        feed_login(&parser->login, from_client, &slice, bytes);
        if (parser->login.facts.login_success && !state->login_reported) {
            state->login_reported = true;
            report(flows, flow, MAIL_FLOW_LOGIN, stream->now, NULL);
        }
        break;
    case MAIL_FLOW_SMTPS:
        /* Only the client's hello is read; the rest is counted. A hole before the hello is
         * complete leaves it unreadable. */
        if (!from_client)
            break;
        if (slice.gap)
            state->hello_done = true;
        feed_hello(flows, flow, parser, bytes, slice.length, slice.missing > 0, stream->now);
        break;
    }
}

/* Hands what the reordering window holds on: all of it at the connection's end (fed:
 * FLUSH_ALL); before a segment of direction "fed", the other direction's hole (the other
 * side answered: a loss, not a reordering) and this one's if open TCP_REORDER_WAIT. */
static void flush_held(struct mail_flows *flows, struct flow *flow, packet_time now, int fed)
{
    struct mail_flow *state = MF(flow);
    if (state->reorder == TCP_REORDER_NONE)
        return;
    struct stream_context context = {flows, flow, now};
    uint32_t *nexts[2] = {&state->client_next, &state->server_next};
    for (unsigned direction = 0; direction < 2; direction++) {
        if ((int)direction != fed)
            tcp_reorder_flush(flows->reorder, &state->reorder, direction, nexts[direction],
                              deliver_segment, &context);
        else
            tcp_reorder_expire(flows->reorder, &state->reorder, direction, nexts[direction], now,
                               deliver_segment, &context);
    }
}

static void feed(struct mail_flows *flows, struct flow *flow, const struct packet *packet,
                 bool from_client)
{
    struct mail_flow *state = MF(flow);
    uint16_t known = from_client ? FLAG_CLIENT_STREAM : FLAG_SERVER_STREAM;
    if (!(state->flags & known))
        return; /* the server's opening segment was not seen: its stream has no origin */
    struct tcp_segment segment = tcp_segment_of(packet);
    struct stream_context context = {flows, flow, packet->ts};
    unsigned direction = from_client ? 0 : 1;
    uint32_t *next = from_client ? &state->client_next : &state->server_next;
    flush_held(flows, flow, packet->ts, (int)direction);
    tcp_reorder_feed(flows->reorder, &state->reorder, direction, next, &segment, packet->ts,
                     deliver_segment, &context);
}

/* RFC 5321 3.1: an SMTP server speaks first, with its greeting. A candidate whose client
 * sends the first bytes (HTTP, TLS and most else) is no SMTP and leaves without costing an
 * nDPI slot; one whose server does is shown to nDPI from then on, payload by payload, until
 * nDPI decides: SMTP keeps the flow, anything else ends it. Returns false when the flow is
 * gone. */
static bool classify(struct mail_flows *flows, struct flow *flow, const struct packet *packet,
                     bool from_client)
{
    struct mail_flow *state = MF(flow);
    if (state->kind != MAIL_FLOW_CANDIDATE || packet->payload_length == 0)
        return true;
    if (state->classifier == NONE) {
        if (!from_client)
            state->classifier = ndpi_classifier_begin(flows->classifier);
        if (state->classifier == NONE) {
            if (!from_client)
                flows->counters->detector_exhausted++;
            release(flows, flow);
            return false;
        }
    }
    enum ndpi_classify_result result =
        ndpi_classifier_packet(flows->classifier, state->classifier, packet);
    if (result == NDPI_CLASSIFY_PENDING)
        return true;
    ndpi_classifier_end(flows->classifier, state->classifier);
    state->classifier = NONE;
    if (result == NDPI_CLASSIFY_SMTP) {
        state->kind = MAIL_FLOW_OTHER_SMTP;
        return true;
    }
    release(flows, flow);
    return false;
}

static void client_packet(struct mail_flows *flows, struct flow *flow, const struct packet *packet,
                          int segment)
{
    struct mail_flow *state = MF(flow);
    uint8_t flags = packet->tcp_flags;
    flow->last_seen = packet->ts > flow->last_seen ? packet->ts : flow->last_seen;
    if ((flags & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
        if (packet->seq == state->client_isn) {
            flow->mark = packet->ts;
            if (state->syn_count < UINT16_MAX)
                state->syn_count++;
            flow_list_append(flows->table, flow, flow->list);
            return;
        }
        close_flow(flows, flow, packet->ts, "port_reused");
        create(flows, packet, segment);
        return;
    }
    if (!classify(flows, flow, packet, true))
        return;
    if (flags & TCP_RST) {
        close_flow(flows, flow, packet->ts, "rst");
        return;
    }
    if (tcp_has_payload(packet))
        feed(flows, flow, packet, true);
    if (flags & TCP_FIN)
        state->flags |= FLAG_CLIENT_FIN;
    if (flow->list == LIST_ACTIVE)
        flow_list_append(flows->table, flow, LIST_ACTIVE);
    if ((state->flags & FLAG_CLIENT_FIN) && (state->flags & FLAG_SERVER_FIN))
        close_flow(flows, flow, packet->ts, "fin");
}

static void server_packet(struct mail_flows *flows, struct flow *flow, const struct packet *packet)
{
    struct mail_flow *state = MF(flow);
    uint8_t flags = packet->tcp_flags;
    flow->last_seen = packet->ts > flow->last_seen ? packet->ts : flow->last_seen;
    if ((flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK)) {
        if (packet->ack != state->client_isn + 1)
            return;
        state->flags |= FLAG_SYN_ACK_SEEN | FLAG_SERVER_STREAM;
        state->server_next = packet->seq + 1;
        flow_list_append(flows->table, flow, LIST_ACTIVE);
        return;
    }
    if (!classify(flows, flow, packet, false))
        return;
    if (flags & TCP_RST) {
        close_flow(flows, flow, packet->ts, "rst");
        return;
    }
    if (tcp_has_payload(packet))
        feed(flows, flow, packet, false);
    if (flags & TCP_FIN)
        state->flags |= FLAG_SERVER_FIN;
    if (flow->list == LIST_ACTIVE)
        flow_list_append(flows->table, flow, LIST_ACTIVE);
    if ((state->flags & FLAG_CLIENT_FIN) && (state->flags & FLAG_SERVER_FIN))
        close_flow(flows, flow, packet->ts, "fin");
}

void mail_flows_packet(struct mail_flows *flows, const struct packet *packet, int segment)
{
    if (packet->proto != IPPROTO_NUMBER_TCP || packet->dst_port == MAIL_PORT_SMTP ||
        packet->src_port == MAIL_PORT_SMTP)
        return;
    bool opening = (packet->tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN;
    struct flow_key key;
    struct flow *flow;
    if (flows->presence[presence_bucket(packet->src.bytes, packet->src_port, packet->dst.bytes,
                                        packet->dst_port)] > 0) {
        flow_key_make(&key, IPPROTO_NUMBER_TCP, &packet->src, &packet->dst, packet->src_port,
                      packet->dst_port);
        flow = flow_lookup(flows->table, &key, flow_key_hash(&key));
        if (flow != NULL) {
            client_packet(flows, flow, packet, segment);
            return;
        }
    }
    if (flows->presence[presence_bucket(packet->dst.bytes, packet->dst_port, packet->src.bytes,
                                        packet->src_port)] > 0) {
        flow_key_make(&key, IPPROTO_NUMBER_TCP, &packet->dst, &packet->src, packet->dst_port,
                      packet->src_port);
        flow = flow_lookup(flows->table, &key, flow_key_hash(&key));
        if (flow != NULL) {
            server_packet(flows, flow, packet);
            return;
        }
    }
    /* Most packets belong to no flow here, and then only a SYN can matter. */
    if (opening)
        create(flows, packet, segment);
}
