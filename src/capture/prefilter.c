#include "capture/prefilter.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "decode/decode.h"
#include "policy/prefix.h"

struct text {
    char *buffer;
    size_t size;
    size_t length;
    bool overflow;
};

static void append(struct text *text, const char *format, ...)
{
    if (text->overflow)
        return;
    va_list args;
    va_start(args, format);
    int n = vsnprintf(text->buffer + text->length, text->size - text->length, format, args);
    va_end(args);
    if (n < 0 || (size_t)n >= text->size - text->length)
        text->overflow = true;
    else
        text->length += (size_t)n;
}

/* Every prefix of the ISP's, each once: own_prefixes, pools, MSAs, resolvers. */
struct prefix_list {
    const struct prefix *items[PREFILTER_PREFIXES_MAX];
    size_t count;
    bool overflow;
};

/* A prefix inside one already listed adds nothing to `net A or net B`; nor does the same
 * prefix twice (a pool inside own_prefixes, say). A wider one replaces those it covers. */
static void add_prefix(struct prefix_list *list, const struct prefix *prefix)
{
    for (size_t i = 0; i < list->count; i++) {
        const struct prefix *listed = list->items[i];
        if (listed->address.family == prefix->address.family && listed->length <= prefix->length &&
            prefix_contains(listed, &prefix->address))
            return;
    }
    size_t kept = 0;
    for (size_t i = 0; i < list->count; i++) {
        const struct prefix *listed = list->items[i];
        bool covered = listed->address.family == prefix->address.family &&
                       prefix->length <= listed->length &&
                       prefix_contains(prefix, &listed->address);
        if (!covered)
            list->items[kept++] = listed;
    }
    list->count = kept;
    if (list->count == PREFILTER_PREFIXES_MAX) {
        list->overflow = true;
        return;
    }
    list->items[list->count++] = prefix;
}

static void add_prefixes(struct prefix_list *list, const struct prefix *prefixes, size_t count)
{
    for (size_t i = 0; i < count; i++)
        add_prefix(list, &prefixes[i]);
}

/* "One end is the ISP's": libpcap's `net` matches source or destination. */
static void append_ours(struct text *text, const struct prefix_list *list)
{
    append(text, "(");
    for (size_t i = 0; i < list->count; i++) {
        char net[PREFIX_TEXT_MAX];
        prefix_format(list->items[i], net, sizeof(net));
        append(text, "%snet %s", i == 0 ? "" : " or ", net);
    }
    append(text, ")");
}

/* The UDP encapsulations the decoder opens (decode.h), matched as it matches them: VXLAN by
 * its destination port, GTP-U by either. Their outer addresses are the mobile core's or the
 * fabric's, rarely the ISP's subscribers', so they are kept whatever the addresses. */
static void append_tunnels(struct text *text)
{
    append(text, "(udp dst port %d or udp port %d)", DECODE_UDP_PORT_VXLAN,
           DECODE_UDP_PORT_GTP_USER);
}

/* The packets to drop, as read from the current offsets. `tcp` and `udp` only match a
 * transport header right after the IP header, so anything less plain is never dropped. */
static void append_drop(struct text *text, const struct prefix_list *ours)
{
    append(text, "(udp and not port 53 and not ");
    append_tunnels(text);
    append(text, ")");
    if (ours->count > 0) {
        append(text, " or ((tcp or udp) and not tcp port 25 and not ");
        append_tunnels(text);
        append(text, " and not ");
        append_ours(text, ours);
        append(text, ")");
    }
}

size_t prefilter_expression(const struct policy *policy, bool vlan, char *buffer, size_t size)
{
    if (size == 0)
        return 0;
    struct text text = {.buffer = buffer, .size = size};
    static struct prefix_list ours; /* start-up only; too large for the stack */
    ours.count = 0;
    ours.overflow = false;
    add_prefixes(&ours, policy->own_prefixes, policy->own_prefix_count);
    for (size_t p = 0; p < policy->pool_count; p++)
        add_prefixes(&ours, policy->pools[p].prefixes, policy->pools[p].prefix_count);
    for (size_t m = 0; m < policy->msa_count; m++)
        add_prefixes(&ours, policy->msas[m].prefixes, policy->msas[m].prefix_count);
    add_prefixes(&ours, policy->resolvers, policy->resolver_count);
    if (ours.overflow) {
        buffer[0] = '\0';
        return 0;
    }
    /* The untagged reading first: libpcap's `vlan` moves the offsets of everything after
     * it, so the tagged reading must come last. */
    append(&text, "not ((");
    append_drop(&text, &ours);
    if (vlan) {
        append(&text, ") or (vlan and (");
        append_drop(&text, &ours);
        append(&text, ")");
    }
    append(&text, "))");
    if (text.overflow) {
        buffer[0] = '\0';
        return 0;
    }
    return text.length;
}
