#include "proto/ndpi_classify.h"

#include <ndpi_api.h>
#include <stdlib.h>
#include <string.h>

#include "util/slot_pool.h"

/* The longest packet rebuilt for nDPI: its API takes the length as an unsigned short. */
#define PACKET_MAX 65535
#define IPV4_HEADER 20
#define IPV6_HEADER 40
#define TCP_HEADER 20

struct slot_state {
    uint16_t packets;
    uint16_t protocol; /* what nDPI found: an NDPI_PROTOCOL_* id */
    bool payload_seen;
    uint8_t result; /* enum ndpi_classify_result */
};

struct ndpi_classifier {
    struct ndpi_detection_module_struct *module; /* NULL until the first flow begins */
    bool module_failed;                          /* nDPI could not be set up: no slots */
    uint8_t *flows;                              /* capacity x flow_size bytes of nDPI flow state */
    size_t flow_size;
    struct slot_state *states;
    struct slot_pool slots;
    uint32_t capacity;
    uint32_t in_use;
    uint8_t packet[PACKET_MAX]; /* the packet rebuilt for nDPI, which reads from L3 */
};

/* nDPI's module is made when the first flow needs it, not at start: building its tables
 * costs some 60 million instructions (tens of milliseconds, a tenth of a short replay),
 * and most captures never show a flow whose server speaks first on an unknown port. */
static bool module_ready(struct ndpi_classifier *classifier)
{
    if (classifier->module != NULL)
        return true;
    if (classifier->module_failed)
        return false;
    classifier->module = ndpi_init_detection_module(ndpi_no_prefs);
    if (classifier->module == NULL) {
        classifier->module_failed = true;
        return false;
    }
    NDPI_PROTOCOL_BITMASK every;
    /* Every dissector: a flow that turns out to be HTTP or TLS is decided at its first
     * payload and leaves, instead of being watched until the packet cap. */
    NDPI_BITMASK_SET_ALL(every);
    ndpi_set_protocol_detection_bitmask2(classifier->module, &every);
    ndpi_finalize_initialization(classifier->module);
    return true;
}

struct ndpi_classifier *ndpi_classifier_new(uint32_t capacity)
{
    if (capacity == 0)
        capacity = 1;
    struct ndpi_classifier *classifier = calloc(1, sizeof(*classifier));
    if (classifier == NULL)
        return NULL;
    classifier->capacity = capacity;
    /* Rounded up so every flow state is aligned like malloc's. */
    classifier->flow_size = (ndpi_detection_get_sizeof_ndpi_flow_struct() + 15) & ~(size_t)15;
    classifier->flows = calloc(capacity, classifier->flow_size);
    classifier->states = calloc(capacity, sizeof(struct slot_state));
    if (slot_pool_init(&classifier->slots, capacity) != 0 || classifier->flows == NULL ||
        classifier->states == NULL)
        goto fail_free_arrays;
    return classifier;

fail_free_arrays:
    free(classifier->flows);
    free(classifier->states);
    slot_pool_free(&classifier->slots);
    free(classifier);
    return NULL;
}

static struct ndpi_flow_struct *flow_of(const struct ndpi_classifier *classifier, uint32_t slot)
{
    return (struct ndpi_flow_struct *)(classifier->flows + (size_t)slot * classifier->flow_size);
}

void ndpi_classifier_free(struct ndpi_classifier *classifier)
{
    if (classifier == NULL)
        return;
    /* Slots still in use may hold what nDPI allocated for them. */
    for (uint32_t slot = 0; slot < classifier->slots.high_water; slot++)
        ndpi_free_flow_data(flow_of(classifier, slot));
    if (classifier->module != NULL)
        ndpi_exit_detection_module(classifier->module);
    free(classifier->flows);
    free(classifier->states);
    slot_pool_free(&classifier->slots);
    free(classifier);
}

uint32_t ndpi_classifier_begin(struct ndpi_classifier *classifier)
{
    if (!module_ready(classifier))
        return NDPI_CLASSIFY_NONE;
    uint32_t slot = slot_pool_take(&classifier->slots);
    if (slot == SLOT_POOL_NONE)
        return NDPI_CLASSIFY_NONE;
    memset(flow_of(classifier, slot), 0, classifier->flow_size);
    memset(&classifier->states[slot], 0, sizeof(struct slot_state));
    classifier->in_use++;
    return slot;
}

void ndpi_classifier_end(struct ndpi_classifier *classifier, uint32_t slot)
{
    if (slot >= classifier->slots.high_water)
        return;
    ndpi_free_flow_data(flow_of(classifier, slot));
    memset(flow_of(classifier, slot), 0, classifier->flow_size);
    slot_pool_give(&classifier->slots, slot);
    classifier->in_use--;
}

static void put16(uint8_t *at, uint16_t value)
{
    at[0] = (uint8_t)(value >> 8);
    at[1] = (uint8_t)value;
}

static void put32(uint8_t *at, uint32_t value)
{
    put16(at, (uint16_t)(value >> 16));
    put16(at + 2, (uint16_t)value);
}

/* The decoder keeps a view of the headers, not the headers: nDPI wants the packet from the
 * IP header on, so a plain IP + TCP header is written in front of the payload. Options and
 * tunnels are left out; nDPI reads neither for TCP dissection. */
static size_t rebuild(struct ndpi_classifier *classifier, const struct packet *packet)
{
    uint8_t *out = classifier->packet;
    size_t ip_length = packet->ip_version == 4 ? IPV4_HEADER : IPV6_HEADER;
    size_t payload = packet->payload_length;
    if (payload > PACKET_MAX - ip_length - TCP_HEADER)
        payload = PACKET_MAX - ip_length - TCP_HEADER;
    size_t total = ip_length + TCP_HEADER + payload;
    memset(out, 0, ip_length + TCP_HEADER);
    if (packet->ip_version == 4) {
        out[0] = 0x45;
        put16(out + 2, (uint16_t)total);
        out[8] = packet->ttl;
        out[9] = IPPROTO_NUMBER_TCP;
        memcpy(out + 12, packet->src.bytes, 4);
        memcpy(out + 16, packet->dst.bytes, 4);
    } else {
        out[0] = 0x60;
        put16(out + 4, (uint16_t)(TCP_HEADER + payload));
        out[6] = IPPROTO_NUMBER_TCP;
        out[7] = packet->ttl;
        memcpy(out + 8, packet->src.bytes, 16);
        memcpy(out + 24, packet->dst.bytes, 16);
    }
    uint8_t *tcp = out + ip_length;
    put16(tcp, packet->src_port);
    put16(tcp + 2, packet->dst_port);
    put32(tcp + 4, packet->seq);
    put32(tcp + 8, packet->ack);
    tcp[12] = (TCP_HEADER / 4) << 4;
    tcp[13] = packet->tcp_flags;
    put16(tcp + 14, packet->window);
    if (payload > 0)
        memcpy(tcp + TCP_HEADER, packet->payload, payload);
    return total;
}

static bool is_smtp(uint16_t protocol)
{
    return protocol == NDPI_PROTOCOL_MAIL_SMTP || protocol == NDPI_PROTOCOL_MAIL_SMTPS;
}

static enum ndpi_classify_result decide(struct slot_state *state, ndpi_protocol found)
{
    uint16_t protocol =
        found.app_protocol != NDPI_PROTOCOL_UNKNOWN ? found.app_protocol : found.master_protocol;
    if (is_smtp(found.master_protocol) || is_smtp(found.app_protocol)) {
        state->protocol = NDPI_PROTOCOL_MAIL_SMTP;
        return NDPI_CLASSIFY_SMTP;
    }
    state->protocol = protocol;
    return protocol != NDPI_PROTOCOL_UNKNOWN ? NDPI_CLASSIFY_OTHER : NDPI_CLASSIFY_PENDING;
}

enum ndpi_classify_result ndpi_classifier_giveup(struct ndpi_classifier *classifier, uint32_t slot)
{
    struct slot_state *state = &classifier->states[slot];
    if (state->result != NDPI_CLASSIFY_PENDING)
        return (enum ndpi_classify_result)state->result;
    uint8_t guessed = 0;
    /* No guess by port: on these ports the port is what cannot be trusted. */
    ndpi_protocol found =
        ndpi_detection_giveup(classifier->module, flow_of(classifier, slot), 0, &guessed);
    enum ndpi_classify_result result = decide(state, found);
    state->result = result == NDPI_CLASSIFY_PENDING ? NDPI_CLASSIFY_OTHER : result;
    return (enum ndpi_classify_result)state->result;
}

enum ndpi_classify_result ndpi_classifier_packet(struct ndpi_classifier *classifier, uint32_t slot,
                                                 const struct packet *packet)
{
    struct slot_state *state = &classifier->states[slot];
    if (state->result != NDPI_CLASSIFY_PENDING)
        return (enum ndpi_classify_result)state->result;
    size_t length = rebuild(classifier, packet);
    ndpi_protocol found = ndpi_detection_process_packet(
        classifier->module, flow_of(classifier, slot), classifier->packet, (unsigned short)length,
        (uint64_t)(packet->ts / 1000));
    state->packets++;
    state->payload_seen = state->payload_seen || packet->payload_length > 0;
    /* Only what the payload showed counts: nDPI also names flows by server address alone,
     * and a relay may well sit in a cloud provider's range. */
    enum ndpi_classify_result result =
        state->payload_seen ? decide(state, found) : NDPI_CLASSIFY_PENDING;
    if (result != NDPI_CLASSIFY_PENDING) {
        state->result = (uint8_t)result;
        return result;
    }
    if (state->packets >= NDPI_CLASSIFY_PACKETS_MAX)
        return ndpi_classifier_giveup(classifier, slot);
    return NDPI_CLASSIFY_PENDING;
}

const char *ndpi_classifier_protocol(const struct ndpi_classifier *classifier, uint32_t slot)
{
    if (classifier->module == NULL)
        return "Unknown";
    return ndpi_get_proto_name(classifier->module, classifier->states[slot].protocol);
}

uint32_t ndpi_classifier_in_use(const struct ndpi_classifier *classifier)
{
    return classifier->in_use;
}

uint32_t ndpi_classifier_capacity(const struct ndpi_classifier *classifier)
{
    return classifier->capacity;
}
