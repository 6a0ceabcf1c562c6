#include "record/verdict.h"

enum verdict verdict_decide(const struct verdict_input *input)
{
    if (input->to_designated_msa)
        return input->msa_port_closing ? VERDICT_WOULD_BLOCK : VERDICT_ALLOWED;
    /* A planned ACL stops every such attempt once it is on, whatever it does today. */
    if (input->blocking_planned)
        return VERDICT_WOULD_BLOCK;
    /* Leak evidence wins over block evidence: an ICMP error or a reset seen alongside a
     * handshake came from elsewhere, because the SYN demonstrably got through. */
    if (input->evidence & EVIDENCE_LEAK_MASK)
        return VERDICT_LEAKED;
    if (input->evidence & EVIDENCE_BLOCK_MASK)
        return VERDICT_BLOCKED;
    return VERDICT_UNKNOWN;
}

enum evidence evidence_highest_leak(evidence_set set)
{
    set &= EVIDENCE_LEAK_MASK;
    if (set == 0)
        return EVIDENCE_COUNT;
    return (enum evidence)(31 - __builtin_clz((unsigned)set));
}

const char *verdict_name(enum verdict verdict)
{
    static const char *const names[VERDICT_COUNT] = {"allowed", "blocked", "leaked", "would_block",
                                                     "unknown"};
    return verdict < VERDICT_COUNT ? names[verdict] : "unknown";
}

const char *evidence_name(enum evidence evidence)
{
    static const char *const names[EVIDENCE_COUNT] = {"icmp_admin_prohibited",
                                                      "no_reply",
                                                      "rst_filter",
                                                      "syn_core_side",
                                                      "syn_ack",
                                                      "client_ack",
                                                      "rst_server",
                                                      "banner",
                                                      "ehlo",
                                                      "starttls",
                                                      "mail_from",
                                                      "rcpt",
                                                      "data"};
    return evidence < EVIDENCE_COUNT ? names[evidence] : "unknown";
}
