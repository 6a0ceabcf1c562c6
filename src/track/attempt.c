#include "track/attempt.h"

#include <stdlib.h>
#include <string.h>

#include "track/flow.h"
#include "track/isn_memory.h"
#include "util/slot_pool.h"
#include "proto/smtp.h"
#include "policy/segment.h"
#include "track/tcp_reorder.h"
#include "track/tcp_stream.h"

#define SMTP_PORT 25

/* The tracker's three lists: attempts with no answer yet run timeouts.syn from their last
 * SYN, or SYN_BACKOFF_HOLD when their stack is backing off (LIST_BACKOFF); answered ones
 * (or settled by leak evidence) run timeouts.smtp_idle. */
enum { LIST_PENDING = 0, LIST_ACTIVE = 1, LIST_BACKOFF = 2 };

/* One attempt per connect() for as long as the stack retransmits its SYN. Stacks double
 * the wait after each SYN: Linux (tcp_syn_retries 6, RTO 1 s) sends at 0, 1, 3, 7, 15,
 * 31, 63 s; macOS (tcp_syn_backoff with a 1 s base, net.inet.tcp.keepinit 75 s) at 0, 1,
 * 2, 3, 4, 5, 7, 11, 19, 35, 67 s; Windows (TcpMaxConnectRetransmissions 2, TcpInitialRTT
 * 3 s) at 0, 3, 9 s. After a SYN that came d after the one before, the next may come 2d
 * later: when 2.5 d (a quarter for timer slack) exceeds timeouts.syn, the attempt waits
 * SYN_BACKOFF_HOLD instead, which covers the longest such wait of those defaults (32 s,
 * after a 16 s one: Linux 31 -> 63 s, macOS 35 -> 67 s). A SYN later still is a
 * retransmission of an attempt already written (isn_memory.h). */
#define SYN_BACKOFF_HOLD (40 * PACKET_TIME_SECOND)
/* A few slots for holes in dialogue streams, which are rare: one per 64 dialogues. */
#define REORDER_SLOTS_MIN 16
#define REORDER_SLOTS_MAX 1024
#define FLUSH_ALL (-1) /* flush_held: both directions */
/* Closed attempts remembered, by the table's size. */
#define ISN_MEMORY_MIN 1024
#define ISN_MEMORY_MAX 262144

enum attempt_flag {
    ATTEMPT_SYN_SEEN = 0x0001,
    ATTEMPT_SYN_ACK_SEEN = 0x0002,
    ATTEMPT_CLIENT_FIN = 0x0004,
    ATTEMPT_SERVER_FIN = 0x0008,
    ATTEMPT_CLIENT_STREAM = 0x0010, /* client_next is known */
    ATTEMPT_SERVER_STREAM = 0x0020, /* server_next is known */
    ATTEMPT_ICMP_SEEN = 0x0040,
    ATTEMPT_TO_MSA = 0x0080,
    ATTEMPT_NO_SESSION = 0x0100, /* the dialogue could not be parsed: no session was free */
    ATTEMPT_TUNNELLED = 0x0200,
};

/* What the tracker keeps of one attempt, beside its flow entry (whose mark is the last
 * SYN). Kept small: 2 million of them must fit well under 1 GiB. */
struct attempt {
    uint32_t client_isn;
    uint32_t server_isn;
    uint32_t client_next; /* next client sequence number expected (stream order) */
    uint32_t server_next;
    uint32_t session; /* dialogue parser slot, or FLOW_NONE */
    uint32_t reorder; /* held segments' slot (tcp_reorder.h), or TCP_REORDER_NONE */
    uint32_t client_bytes;
    uint32_t server_bytes;
    uint16_t flags; /* enum attempt_flag */
    uint16_t syn_count;
    evidence_set evidence;
    int16_t pool;
    int16_t msa;
    int8_t segment; /* index in policy.segments, or -1 */
    uint8_t icmp_type;
    uint8_t icmp_code;
    struct address icmp_from;
};

static inline struct attempt *attempt_of(const struct flow *flow)
{
    return flow_record(flow);
}

struct attempt_tracker {
    const struct policy *policy;
    struct bus *bus;
    struct coverage *coverage;
    struct sensor_counters *counters;
    const bool *return_seen;
    struct flow_table *flows;
    packet_time due; /* no timer runs out before this: advance returns at once */
    packet_time now; /* the latest packet time the tracker was given */

    /* Dialogue parsers live apart from flows: most attempts are a lone SYN and never
     * need one, so only flows that carry payload take a slot. */
    struct smtp_session *sessions;
    struct slot_pool session_slots;
    struct tcp_reorder_pool *reorder; /* for the dialogues' streams */
    struct isn_memory *closed;        /* attempts written whose SYNs may yet come */
    packet_time backoff_hold;         /* LIST_BACKOFF's timeout */
};

static uint32_t clamp_u32(uint32_t value, uint32_t low, uint32_t high)
{
    return value < low ? low : value > high ? high : value;
}

struct attempt_tracker *attempt_tracker_new(const struct policy *policy, struct bus *bus,
                                            struct coverage *coverage,
                                            struct sensor_counters *counters,
                                            const bool *return_seen)
{
    struct attempt_tracker *tracker = calloc(1, sizeof(*tracker));
    if (tracker == NULL)
        return NULL;
    tracker->policy = policy;
    tracker->bus = bus;
    tracker->coverage = coverage;
    tracker->counters = counters;
    tracker->return_seen = return_seen;
    tracker->flows = flow_table_new(policy->limits.flows, sizeof(struct attempt));
    if (tracker->flows == NULL)
        goto fail_free_tracker;
    flow_table_set_timer(tracker->flows, LIST_PENDING, FLOW_TIME_MARK, policy->timeouts.syn,
                         &tracker->due);
    flow_table_set_timer(tracker->flows, LIST_ACTIVE, FLOW_TIME_LAST_SEEN,
                         policy->timeouts.smtp_idle, &tracker->due);
    tracker->backoff_hold =
        policy->timeouts.syn > SYN_BACKOFF_HOLD ? policy->timeouts.syn : SYN_BACKOFF_HOLD;
    flow_table_set_timer(tracker->flows, LIST_BACKOFF, FLOW_TIME_MARK, tracker->backoff_hold,
                         &tracker->due);
    tracker->sessions = calloc(policy->limits.sessions, sizeof(struct smtp_session));
    tracker->reorder = tcp_reorder_new(
        clamp_u32(policy->limits.sessions / 64, REORDER_SLOTS_MIN, REORDER_SLOTS_MAX),
        &counters->stream_reordered);
    tracker->closed =
        isn_memory_new(clamp_u32(policy->limits.flows / 4, ISN_MEMORY_MIN, ISN_MEMORY_MAX));
    if (slot_pool_init(&tracker->session_slots, policy->limits.sessions) != 0 ||
        tracker->sessions == NULL || tracker->reorder == NULL || tracker->closed == NULL)
        goto fail_free_sessions;
    return tracker;

fail_free_sessions:
    isn_memory_free(tracker->closed);
    tcp_reorder_free(tracker->reorder);
    free(tracker->sessions);
    slot_pool_free(&tracker->session_slots);
    flow_table_free(tracker->flows);
fail_free_tracker:
    free(tracker);
    return NULL;
}

size_t attempt_record_size(void)
{
    return sizeof(struct attempt);
}

void attempt_tracker_free(struct attempt_tracker *tracker)
{
    if (tracker == NULL)
        return;
    flow_table_free(tracker->flows);
    free(tracker->sessions);
    slot_pool_free(&tracker->session_slots);
    tcp_reorder_free(tracker->reorder);
    isn_memory_free(tracker->closed);
    free(tracker);
}

static struct smtp_session *session_of(struct attempt_tracker *tracker, struct flow *flow)
{
    struct attempt *attempt = attempt_of(flow);
    if (attempt->session != FLOW_NONE)
        return &tracker->sessions[attempt->session];
    if (attempt->flags & ATTEMPT_NO_SESSION)
        return NULL;
    uint32_t slot = slot_pool_take(&tracker->session_slots);
    if (slot == SLOT_POOL_NONE) {
        attempt->flags |= ATTEMPT_NO_SESSION;
        tracker->counters->sessions_exhausted++;
        return NULL;
    }
    attempt->session = slot;
    tracker->counters->sessions_active++;
    smtp_session_init(&tracker->sessions[slot]);
    return &tracker->sessions[slot];
}

static void session_release(struct attempt_tracker *tracker, struct flow *flow)
{
    struct attempt *attempt = attempt_of(flow);
    if (attempt->session == FLOW_NONE)
        return;
    slot_pool_give(&tracker->session_slots, attempt->session);
    attempt->session = FLOW_NONE;
    tracker->counters->sessions_active--;
}

static const struct blocking_point *blocking_point_of(const struct attempt_tracker *tracker,
                                                      const struct attempt *attempt)
{
    int point = tracker->policy->pools[attempt->pool].blocking_point;
    return point == POLICY_NO_INDEX ? NULL : &tracker->policy->blocking_points[point];
}

/* The attempt as the value its readers get. */
static void describe(const struct attempt_tracker *tracker, const struct flow *flow,
                     const char *reason, struct attempt_record *record)
{
    const struct attempt *attempt = attempt_of(flow);
    const struct blocking_point *point = blocking_point_of(tracker, attempt);
    struct verdict_input input = {
        .to_designated_msa = (attempt->flags & ATTEMPT_TO_MSA) != 0,
        .blocking_planned = point != NULL && point->state == BLOCKING_PLANNED,
        .evidence = attempt->evidence,
        .msa_port_closing = policy_msa_closing(tracker->policy, attempt->msa, SMTP_PORT),
    };
    flow_key_tuple(&flow->key, &record->flow);
    record->first_seen = flow->first_seen;
    record->last_seen = flow->last_seen;
    record->closed = tracker->now > flow->last_seen ? tracker->now : flow->last_seen;
    record->pool = attempt->pool;
    record->segment = attempt->segment;
    record->msa = attempt->msa;
    record->to_designated_msa = (attempt->flags & ATTEMPT_TO_MSA) != 0;
    record->verdict = verdict_decide(&input);
    record->evidence = attempt->evidence;
    record->syn_count = attempt->syn_count;
    record->last_syn = (attempt->flags & ATTEMPT_SYN_SEEN) ? flow->mark : 0;
    record->icmp_seen = (attempt->flags & ATTEMPT_ICMP_SEEN) != 0;
    record->icmp_type = attempt->icmp_type;
    record->icmp_code = attempt->icmp_code;
    record->icmp_from = attempt->icmp_from;
    record->server_stream = (attempt->flags & ATTEMPT_SERVER_STREAM) != 0;
    record->close_reason = reason;
    record->client_bytes = attempt->client_bytes;
    record->server_bytes = attempt->server_bytes;
    record->smtp =
        attempt->session != FLOW_NONE ? &tracker->sessions[attempt->session].facts : NULL;
}

/* The attempt's event, its count in coverage, its dialogue parser back to the pool: all
 * of closing but taking it out of the table. */
static void flush_held(struct attempt_tracker *tracker, struct flow *flow, packet_time now,
                       int fed);

static void report_attempt(struct attempt_tracker *tracker, struct flow *flow, const char *reason)
{
    struct attempt_record record;
    if (attempt_of(flow)->reorder != TCP_REORDER_NONE)
        flush_held(tracker, flow, flow->last_seen, FLUSH_ALL);
    describe(tracker, flow, reason, &record);
    bus_attempt(tracker->bus, &record);
    coverage_add(tracker->coverage, record.pool, flow->key.family, record.verdict);
    session_release(tracker, flow);
}

static void close_attempt(struct attempt_tracker *tracker, struct flow *flow, const char *reason)
{
    report_attempt(tracker, flow, reason);
    flow_remove(tracker->flows, flow);
    tracker->counters->flows_active = flow_table_count(tracker->flows);
}

/* Closed while its stack may still send SYNs (its timer ran out, the table evicted it, a
 * new ISN took its ports): those SYNs are this attempt's, not new ones. */
static void close_remembered(struct attempt_tracker *tracker, struct flow *flow, const char *reason)
{
    const struct attempt *attempt = attempt_of(flow);
    if (attempt->flags & ATTEMPT_SYN_SEEN)
        isn_memory_remember(tracker->closed, &flow->key, attempt->client_isn, flow->mark);
    close_attempt(tracker, flow, reason);
}

/* Timers close the heads of the lists one after another (at the end of a flood's SYN
 * timeout, millions): each removal finds the next one's index entry fetched. */
static void close_expired(struct attempt_tracker *tracker, struct flow *flow, unsigned list,
                          const char *reason)
{
    if (list == LIST_ACTIVE)
        close_attempt(tracker, flow, reason);
    else
        close_remembered(tracker, flow, reason);
    flow_list_prefetch(tracker->flows, list);
}

/* Silence is only evidence where the capture could have shown an answer: on the subscriber
 * side of the pool's blocking point, on a segment where traffic towards the ISP is seen at
 * all (a one-way capture shows no silence). An ICMP error that is no ACL's answer (host
 * unreachable, say) is an answer all the same: not silence. */
static void expire_pending(struct attempt_tracker *tracker, struct flow *flow, unsigned list)
{
    struct attempt *attempt = attempt_of(flow);
    if ((attempt->evidence & (EVIDENCE_BLOCK_MASK | EVIDENCE_LEAK_MASK)) == 0 &&
        !(attempt->flags & ATTEMPT_ICMP_SEEN) &&
        policy_pool_position(tracker->policy, attempt->pool) == POSITION_EDGE_SIDE &&
        segment_flag(tracker->return_seen, attempt->segment))
        attempt->evidence |= EVIDENCE_BIT(EVIDENCE_NO_REPLY);
    close_expired(tracker, flow, list, "syn_timeout");
}

void attempt_advance(struct attempt_tracker *tracker, packet_time now)
{
    const struct policy *policy = tracker->policy;
    if (now > tracker->now)
        tracker->now = now;
    if (now < tracker->due)
        return;
    struct flow *flow;
    while ((flow = flow_list_head(tracker->flows, LIST_PENDING)) != NULL &&
           flow->mark + policy->timeouts.syn <= now)
        expire_pending(tracker, flow, LIST_PENDING);
    while ((flow = flow_list_head(tracker->flows, LIST_BACKOFF)) != NULL &&
           flow->mark + tracker->backoff_hold <= now)
        expire_pending(tracker, flow, LIST_BACKOFF);
    while ((flow = flow_list_head(tracker->flows, LIST_ACTIVE)) != NULL &&
           flow->last_seen + policy->timeouts.smtp_idle <= now)
        close_expired(tracker, flow, LIST_ACTIVE, "idle");
    tracker->due = flow_table_next_deadline(tracker->flows);
}

/* Every attempt still held is closed, in the same order as one by one (unanswered ones
 * first), and the table is emptied once at the end. */
void attempt_finish(struct attempt_tracker *tracker, const char *reason)
{
    static const unsigned order[FLOW_LISTS] = {LIST_PENDING, LIST_BACKOFF, LIST_ACTIVE};
    for (unsigned i = 0; i < FLOW_LISTS; i++) {
        struct flow *flow = flow_list_head(tracker->flows, order[i]);
        while (flow != NULL) {
            struct flow *next = flow_list_next(tracker->flows, flow);
            report_attempt(tracker, flow, reason);
            flow = next;
        }
    }
    flow_table_clear(tracker->flows);
    tracker->counters->flows_active = 0;
}

/* The dialogue stage reached is leak evidence of its own level. */
static void take_smtp_evidence(struct flow *flow, const struct smtp_facts *facts)
{
    struct attempt *attempt = attempt_of(flow);
    if (facts->banner_seen)
        attempt->evidence |= EVIDENCE_BIT(EVIDENCE_BANNER);
    if (facts->helo_count > 0)
        attempt->evidence |= EVIDENCE_BIT(EVIDENCE_EHLO);
    if (facts->starttls_requested)
        attempt->evidence |= EVIDENCE_BIT(EVIDENCE_STARTTLS);
    if (facts->mail_count > 0)
        attempt->evidence |= EVIDENCE_BIT(EVIDENCE_MAIL_FROM);
    if (facts->rcpt_count > 0)
        attempt->evidence |= EVIDENCE_BIT(EVIDENCE_RCPT);
    if (facts->data_count > 0)
        attempt->evidence |= EVIDENCE_BIT(EVIDENCE_DATA);
}

/* Packets from several sources interleave slightly out of order: an attempt's last packet
 * time never moves back, so its duration is never negative. */
static void touch(struct flow *flow, packet_time ts)
{
    if (ts > flow->last_seen)
        flow->last_seen = ts;
}

/* What a delivery needs besides the segment (tcp_reorder_deliver's context). */
struct stream_context {
    struct attempt_tracker *tracker;
    struct flow *flow;
};

/* One segment in stream order: its new bytes counted as the wire carried them, and shown
 * to the dialogue parser, with what could not be seen (a gap before, bytes cut after). */
static void deliver_segment(void *context, unsigned direction, const struct tcp_segment *segment)
{
    struct stream_context *stream = context;
    struct attempt_tracker *tracker = stream->tracker;
    struct attempt *attempt = attempt_of(stream->flow);
    bool from_client = direction == 0;
    struct tcp_stream_slice slice =
        tcp_stream_accept(from_client ? &attempt->client_next : &attempt->server_next, segment);
    if (slice.gap)
        tracker->counters->stream_gaps++;
    uint32_t *bytes = from_client ? &attempt->client_bytes : &attempt->server_bytes;
    *bytes += slice.length + slice.missing;
    if (attempt->session == FLOW_NONE)
        return;
    struct smtp_session *session = &tracker->sessions[attempt->session];
    const uint8_t *data = segment->data + slice.skip;
    if (from_client) {
        if (slice.gap)
            smtp_client_gap(session);
        smtp_client_bytes(session, data, slice.length);
        smtp_client_missing(session, slice.missing);
    } else {
        if (slice.gap)
            smtp_server_gap(session);
        smtp_server_bytes(session, data, slice.length);
        smtp_server_missing(session, slice.missing);
    }
    take_smtp_evidence(stream->flow, &session->facts);
}

/* Hands what the reordering window holds to the parser: everything at the attempt's end
 * (fed: FLUSH_ALL); before a segment of direction "fed", the other direction's hole (the
 * other side answered, so the hole is older than a round trip: a loss, not a mirror's
 * reordering, and the parser must see each side's bytes before the answers to them) and
 * this direction's if it has been open TCP_REORDER_WAIT. */
static void flush_held(struct attempt_tracker *tracker, struct flow *flow, packet_time now, int fed)
{
    struct attempt *attempt = attempt_of(flow);
    if (attempt->reorder == TCP_REORDER_NONE)
        return;
    struct stream_context context = {tracker, flow};
    uint32_t *nexts[2] = {&attempt->client_next, &attempt->server_next};
    for (unsigned direction = 0; direction < 2; direction++) {
        if ((int)direction != fed)
            tcp_reorder_flush(tracker->reorder, &attempt->reorder, direction, nexts[direction],
                              deliver_segment, &context);
        else
            tcp_reorder_expire(tracker->reorder, &attempt->reorder, direction, nexts[direction],
                               now, deliver_segment, &context);
    }
}

static void feed_stream(struct attempt_tracker *tracker, struct flow *flow,
                        const struct packet *packet, bool from_client)
{
    struct attempt *attempt = attempt_of(flow);
    struct smtp_session *session = session_of(tracker, flow);
    uint16_t known = from_client ? ATTEMPT_CLIENT_STREAM : ATTEMPT_SERVER_STREAM;
    uint32_t *next = from_client ? &attempt->client_next : &attempt->server_next;
    if (!(attempt->flags & known)) {
        /* The opening segment was not seen: start here, mid-line perhaps. */
        *next = packet->seq;
        attempt->flags |= known;
        if (session != NULL && from_client)
            smtp_client_joined(session);
        else if (session != NULL)
            smtp_server_joined(session);
    }
    struct tcp_segment segment = tcp_segment_of(packet);
    struct stream_context context = {tracker, flow};
    unsigned direction = from_client ? 0 : 1;
    /* Only dialogues hold segments back: without a parser, order changes no fact. */
    if (session == NULL) {
        deliver_segment(&context, direction, &segment);
        return;
    }
    flush_held(tracker, flow, packet->ts, (int)direction);
    tcp_reorder_feed(tracker->reorder, &attempt->reorder, direction, next, &segment, packet->ts,
                     deliver_segment, &context);
}

/* After every packet: a leak settles the attempt (it leaves the SYN timer for the idle
 * timer), activity refreshes the idle timer, and two FINs end the connection. */
static void after_packet(struct attempt_tracker *tracker, struct flow *flow,
                         const struct packet *packet)
{
    struct attempt *attempt = attempt_of(flow);
    flow->last_seen = packet->ts > flow->last_seen ? packet->ts : flow->last_seen;
    if ((attempt->evidence & EVIDENCE_LEAK_MASK) || flow->list == LIST_ACTIVE)
        flow_list_append(tracker->flows, flow, LIST_ACTIVE);
    if ((attempt->flags & ATTEMPT_CLIENT_FIN) && (attempt->flags & ATTEMPT_SERVER_FIN))
        close_attempt(tracker, flow, "fin");
}

static struct flow *create_attempt(struct attempt_tracker *tracker, const struct packet *packet,
                                   int segment, bool midstream)
{
    const struct policy *policy = tracker->policy;
    int pool = policy_pool_of(policy, &packet->src);
    if (pool == POLICY_NO_INDEX || policy->pools[pool].type != POOL_DYNAMIC)
        return NULL;
    struct flow_key key;
    flow_key_make(&key, IPPROTO_NUMBER_TCP, &packet->src, &packet->dst, packet->src_port,
                  packet->dst_port);
    uint32_t hash = flow_key_hash(&key);
    struct flow *flow = flow_insert(tracker->flows, &key, hash);
    if (flow == NULL) {
        /* Full: give up the oldest silent attempt first, so leak evidence is kept longest. */
        struct flow *victim = flow_list_head(tracker->flows, LIST_PENDING);
        if (victim == NULL)
            victim = flow_list_head(tracker->flows, LIST_BACKOFF);
        if (victim == NULL)
            victim = flow_list_head(tracker->flows, LIST_ACTIVE);
        if (victim == NULL)
            return NULL;
        tracker->counters->flow_evictions++;
        close_remembered(tracker, victim, "evicted");
        flow = flow_insert(tracker->flows, &key, hash);
        if (flow == NULL)
            return NULL;
    }
    tracker->counters->flows_created++;
    tracker->counters->flows_active = flow_table_count(tracker->flows);
    struct attempt *attempt = attempt_of(flow);
    attempt->session = FLOW_NONE;
    attempt->reorder = TCP_REORDER_NONE;
    attempt->msa = -1;
    attempt->pool = (int16_t)pool;
    attempt->segment = (int8_t)segment;
    flow->first_seen = flow->last_seen = packet->ts;
    if (packet->tunnel != TUNNEL_NONE)
        attempt->flags |= ATTEMPT_TUNNELLED;
    int msa = policy_msa_of(policy, &packet->dst);
    if (msa != POLICY_NO_INDEX) {
        attempt->msa = (int16_t)msa;
        if (policy_msa_allows(policy, msa, pool, packet->dst_port))
            attempt->flags |= ATTEMPT_TO_MSA;
    }
    if (midstream) {
        /* A client segment of a connection whose handshake came before the capture: the
         * connection exists, so a SYN-ACK reached the client. */
        attempt->evidence |= EVIDENCE_BIT(EVIDENCE_CLIENT_ACK);
        flow_list_append(tracker->flows, flow, LIST_ACTIVE);
        return flow;
    }
    attempt->flags |= ATTEMPT_SYN_SEEN | ATTEMPT_CLIENT_STREAM;
    attempt->client_isn = packet->seq;
    attempt->client_next = packet->seq + 1;
    attempt->syn_count = 1;
    flow->mark = packet->ts;
    /* Past the ACL, any SYN at all is the leak: a working block lets none through. Where
     * the mirror sits is said per blocking point: behind a home router's block, in front of
     * an edge router's. */
    if (policy_pool_position(policy, pool) == POSITION_CORE_SIDE) {
        attempt->evidence |= EVIDENCE_BIT(EVIDENCE_SYN_CORE_SIDE);
        flow_list_append(tracker->flows, flow, LIST_ACTIVE);
    } else {
        flow_list_append(tracker->flows, flow, LIST_PENDING);
    }
    return flow;
}

/* The list a SYN retransmitted "interval" after the previous one puts its attempt on (see
 * SYN_BACKOFF_HOLD). */
static unsigned list_after_syn(const struct attempt_tracker *tracker, const struct flow *flow,
                               packet_time interval)
{
    if (flow->list == LIST_ACTIVE)
        return LIST_ACTIVE;
    bool backing_off = interval * 5 / 2 > tracker->policy->timeouts.syn;
    return backing_off && tracker->backoff_hold > tracker->policy->timeouts.syn ? LIST_BACKOFF
                                                                                : LIST_PENDING;
}

/* A SYN on the ports of an open attempt: a retransmission (the same ISN) is the same
 * attempt and restarts its SYN timer; a late copy of an ISN closed before is counted;
 * another ISN begins a new attempt. */
static void client_syn(struct attempt_tracker *tracker, struct flow *flow,
                       const struct packet *packet, int segment)
{
    struct attempt *attempt = attempt_of(flow);
    if ((attempt->flags & ATTEMPT_SYN_SEEN) && packet->seq == attempt->client_isn) {
        if (attempt->syn_count < UINT16_MAX)
            attempt->syn_count++;
        packet_time interval = packet->ts - flow->mark;
        flow->mark = packet->ts;
        touch(flow, packet->ts);
        flow_list_append(tracker->flows, flow, list_after_syn(tracker, flow, interval));
        return;
    }
    if (isn_memory_recall(tracker->closed, &flow->key, packet->seq, packet->ts)) {
        tracker->counters->syn_after_close++;
        return;
    }
    /* A new ISN on the same ports: the old connection is over, a new attempt begins. */
    close_remembered(tracker, flow, "port_reused");
    create_attempt(tracker, packet, segment, false);
}

static void client_packet(struct attempt_tracker *tracker, struct flow *flow,
                          const struct packet *packet, int segment)
{
    struct attempt *attempt = attempt_of(flow);
    uint8_t flags = packet->tcp_flags;
    if ((flags & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
        client_syn(tracker, flow, packet, segment);
        return;
    }
    if (flags & TCP_RST) {
        touch(flow, packet->ts);
        close_attempt(tracker, flow, "rst");
        return;
    }
    if ((flags & TCP_ACK) && (attempt->flags & ATTEMPT_SYN_SEEN) &&
        (int32_t)(packet->seq - attempt->client_isn) > 0)
        attempt->evidence |= EVIDENCE_BIT(EVIDENCE_CLIENT_ACK);
    if (tcp_has_payload(packet))
        feed_stream(tracker, flow, packet, true);
    if (flags & TCP_FIN)
        attempt->flags |= ATTEMPT_CLIENT_FIN;
    after_packet(tracker, flow, packet);
}

static void server_packet(struct attempt_tracker *tracker, struct flow *flow,
                          const struct packet *packet)
{
    struct attempt *attempt = attempt_of(flow);
    uint8_t flags = packet->tcp_flags;
    bool answers_syn = !(flags & TCP_ACK) || !(attempt->flags & ATTEMPT_SYN_SEEN) ||
                       packet->ack == attempt->client_isn + 1;
    if ((flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK)) {
        if (!answers_syn)
            return;
        attempt->flags |= ATTEMPT_SYN_ACK_SEEN | ATTEMPT_SERVER_STREAM;
        attempt->server_isn = packet->seq;
        attempt->server_next = packet->seq + 1;
        attempt->evidence |= EVIDENCE_BIT(EVIDENCE_SYN_ACK);
        after_packet(tracker, flow, packet);
        return;
    }
    if (flags & TCP_RST) {
        touch(flow, packet->ts);
        if (!(attempt->flags & ATTEMPT_SYN_ACK_SEEN) && (attempt->flags & ATTEMPT_SYN_SEEN) &&
            answers_syn &&
            !(attempt->evidence & EVIDENCE_LEAK_MASK & ~EVIDENCE_BIT(EVIDENCE_SYN_CORE_SIDE))) {
            /* A reset in place of a SYN-ACK: the filter's, where the blocking point is
             * declared to answer with resets and the sensor sits on its subscriber side;
             * otherwise the server's own, which means the SYN got there. */
            const struct blocking_point *point = blocking_point_of(tracker, attempt);
            if (point != NULL && point->reject == REJECT_TCP_RESET &&
                point->position == POSITION_EDGE_SIDE)
                attempt->evidence |= EVIDENCE_BIT(EVIDENCE_RST_FILTER);
            else
                attempt->evidence |= EVIDENCE_BIT(EVIDENCE_RST_SERVER);
        }
        close_attempt(tracker, flow, "rst");
        return;
    }
    if (tcp_has_payload(packet))
        feed_stream(tracker, flow, packet, false);
    if (flags & TCP_FIN)
        attempt->flags |= ATTEMPT_SERVER_FIN;
    after_packet(tracker, flow, packet);
}

void attempt_prefetch(const struct attempt_tracker *tracker, const struct packet *packet)
{
    if (packet->proto != IPPROTO_NUMBER_TCP || packet->dst_port != SMTP_PORT)
        return;
    struct flow_key key;
    flow_key_make(&key, IPPROTO_NUMBER_TCP, &packet->src, &packet->dst, packet->src_port,
                  packet->dst_port);
    flow_prefetch(tracker->flows, flow_key_hash(&key));
}

void attempt_tcp(struct attempt_tracker *tracker, const struct packet *packet, int segment)
{
    struct flow_key key;
    if (packet->ts > tracker->now)
        tracker->now = packet->ts;
    if (packet->dst_port == SMTP_PORT) {
        flow_key_make(&key, IPPROTO_NUMBER_TCP, &packet->src, &packet->dst, packet->src_port,
                      packet->dst_port);
        struct flow *flow = flow_lookup(tracker->flows, &key, flow_key_hash(&key));
        if (flow != NULL) {
            client_packet(tracker, flow, packet, segment);
            return;
        }
    }
    if (packet->src_port == SMTP_PORT) {
        flow_key_make(&key, IPPROTO_NUMBER_TCP, &packet->dst, &packet->src, packet->dst_port,
                      packet->src_port);
        struct flow *flow = flow_lookup(tracker->flows, &key, flow_key_hash(&key));
        if (flow != NULL) {
            server_packet(tracker, flow, packet);
            return;
        }
    }
    if (packet->dst_port != SMTP_PORT)
        return;
    uint8_t flags = packet->tcp_flags;
    if ((flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN) {
        /* The key made above is the client's, unless both ports are 25. */
        if (packet->src_port == SMTP_PORT)
            flow_key_make(&key, IPPROTO_NUMBER_TCP, &packet->src, &packet->dst, packet->src_port,
                          packet->dst_port);
        if (isn_memory_recall(tracker->closed, &key, packet->seq, packet->ts)) {
            tracker->counters->syn_after_close++;
            return;
        }
        create_attempt(tracker, packet, segment, false);
    } else if ((flags & (TCP_SYN | TCP_RST | TCP_ACK)) == TCP_ACK && tcp_has_payload(packet)) {
        /* Only data shows a connection joined midway: a bare ACK or FIN is also what a
         * client sends after an attempt closed on both FINs (the ACK of the server's FIN,
         * RFC 9293 3.6, or a FIN retransmitted), which must not open a second attempt. */
        struct flow *flow = create_attempt(tracker, packet, segment, true);
        if (flow != NULL)
            client_packet(tracker, flow, packet, segment);
    }
}

/* ICMP 3/13 (communication administratively prohibited, RFC 1812 5.2.7.1), 3/9 and 3/10
 * (RFC 1122 3.2.2.1), ICMPv6 1/1 (RFC 4443 3.1): what an ACL answers with. */
static bool is_admin_prohibited(const struct packet *packet)
{
    if (packet->ip_version == 4)
        return packet->icmp_type == 3 &&
               (packet->icmp_code == 9 || packet->icmp_code == 10 || packet->icmp_code == 13);
    return packet->icmp_type == 1 && packet->icmp_code == 1;
}

void attempt_icmp(struct attempt_tracker *tracker, const struct packet *packet)
{
    const struct quoted_header *quote = &packet->quote;
    if (quote->proto != IPPROTO_NUMBER_TCP || !quote->has_ports || quote->dst_port != SMTP_PORT)
        return;
    struct flow_key key;
    flow_key_make(&key, IPPROTO_NUMBER_TCP, &quote->src, &quote->dst, quote->src_port,
                  quote->dst_port);
    struct flow *flow = flow_lookup(tracker->flows, &key, flow_key_hash(&key));
    if (flow == NULL)
        return;
    struct attempt *attempt = attempt_of(flow);
    /* The quoted sequence number ties the error to this attempt, not an earlier one. */
    if (quote->has_seq && (attempt->flags & ATTEMPT_SYN_SEEN) &&
        (int32_t)(quote->seq - attempt->client_isn) < 0)
        return;
    attempt->flags |= ATTEMPT_ICMP_SEEN;
    attempt->icmp_type = packet->icmp_type;
    attempt->icmp_code = packet->icmp_code;
    attempt->icmp_from = packet->src;
    if (is_admin_prohibited(packet))
        attempt->evidence |= EVIDENCE_BIT(EVIDENCE_ICMP_ADMIN_PROHIBITED);
}
