/* OP25B attempt verdicts and their evidence (dashboards/events.md, "Verdicts and evidence").
 * Pure functions: the tracker collects evidence, this file alone says what it means. */
#ifndef OP25B_VERDICT_H
#define OP25B_VERDICT_H

#include <stdbool.h>
#include <stdint.h>

enum verdict {
    VERDICT_ALLOWED = 0, /* to a designated MSA serving this port and pool */
    VERDICT_BLOCKED,
    VERDICT_LEAKED,
    VERDICT_WOULD_BLOCK, /* the pool's blocking point is planned, not yet active; or the
                            designated MSA's port 25 is planned to close */
    VERDICT_UNKNOWN,     /* the capture cannot tell */
    VERDICT_COUNT
};

/* In level order: block evidence first, then leak evidence from the weakest to the
 * strongest, so the highest set bit of a leak is the furthest the dialogue got. */
enum evidence {
    EVIDENCE_ICMP_ADMIN_PROHIBITED = 0,
    EVIDENCE_NO_REPLY,
    EVIDENCE_RST_FILTER,
    EVIDENCE_SYN_CORE_SIDE,
    EVIDENCE_SYN_ACK,
    EVIDENCE_CLIENT_ACK,
    EVIDENCE_RST_SERVER,
    EVIDENCE_BANNER,
    EVIDENCE_EHLO,
    EVIDENCE_STARTTLS,
    EVIDENCE_MAIL_FROM,
    EVIDENCE_RCPT,
    EVIDENCE_DATA,
    EVIDENCE_COUNT
};

typedef uint16_t evidence_set;

#define EVIDENCE_BIT(e) ((evidence_set)(1u << (e)))
#define EVIDENCE_BLOCK_MASK                                                                        \
    (EVIDENCE_BIT(EVIDENCE_ICMP_ADMIN_PROHIBITED) | EVIDENCE_BIT(EVIDENCE_NO_REPLY) |              \
     EVIDENCE_BIT(EVIDENCE_RST_FILTER))
#define EVIDENCE_LEAK_MASK ((evidence_set)(~EVIDENCE_BLOCK_MASK & ((1u << EVIDENCE_COUNT) - 1)))

struct verdict_input {
    bool to_designated_msa;
    bool blocking_planned;
    evidence_set evidence;
    /* ... and that MSA's port is planned to close (policy planned_close): today it takes
     * the attempt, but once closed it will not. */
    bool msa_port_closing;
};

enum verdict verdict_decide(const struct verdict_input *input);
/* The strongest leak evidence in the set, or EVIDENCE_COUNT when there is none. */
enum evidence evidence_highest_leak(evidence_set set);

const char *verdict_name(enum verdict verdict);
const char *evidence_name(enum evidence evidence);

#endif
