#include <criterion/criterion.h>

#include "record/verdict.h"

static enum verdict decide(bool msa, bool planned, evidence_set evidence)
{
    struct verdict_input input = {msa, planned, evidence};
    return verdict_decide(&input);
}

Test(verdict, designated_msa_is_allowed_whatever_happened)
{
    cr_assert_eq(decide(true, false, 0), VERDICT_ALLOWED);
    cr_assert_eq(decide(true, true, EVIDENCE_BIT(EVIDENCE_DATA)), VERDICT_ALLOWED);
    cr_assert_eq(decide(true, false, EVIDENCE_BIT(EVIDENCE_NO_REPLY)), VERDICT_ALLOWED);
}

Test(verdict, planned_blocking_point_would_block)
{
    cr_assert_eq(decide(false, true, 0), VERDICT_WOULD_BLOCK);
    cr_assert_eq(decide(false, true, EVIDENCE_BIT(EVIDENCE_BANNER)), VERDICT_WOULD_BLOCK);
}

Test(verdict, each_block_evidence_alone_blocks)
{
    cr_assert_eq(decide(false, false, EVIDENCE_BIT(EVIDENCE_ICMP_ADMIN_PROHIBITED)),
                 VERDICT_BLOCKED);
    cr_assert_eq(decide(false, false, EVIDENCE_BIT(EVIDENCE_NO_REPLY)), VERDICT_BLOCKED);
    cr_assert_eq(decide(false, false, EVIDENCE_BIT(EVIDENCE_RST_FILTER)), VERDICT_BLOCKED);
}

Test(verdict, each_leak_evidence_leaks_and_beats_block_evidence)
{
    for (int e = EVIDENCE_SYN_CORE_SIDE; e < EVIDENCE_COUNT; e++) {
        cr_assert_eq(decide(false, false, EVIDENCE_BIT(e)), VERDICT_LEAKED, "%s",
                     evidence_name((enum evidence)e));
        cr_assert_eq(
            decide(false, false, EVIDENCE_BIT(e) | EVIDENCE_BIT(EVIDENCE_ICMP_ADMIN_PROHIBITED)),
            VERDICT_LEAKED);
    }
}

Test(verdict, no_evidence_is_unknown)
{
    cr_assert_eq(decide(false, false, 0), VERDICT_UNKNOWN);
}

Test(verdict, highest_leak_follows_the_guide_order)
{
    cr_assert_eq(evidence_highest_leak(0), EVIDENCE_COUNT);
    cr_assert_eq(evidence_highest_leak(EVIDENCE_BLOCK_MASK), EVIDENCE_COUNT);
    cr_assert_eq(evidence_highest_leak(EVIDENCE_BIT(EVIDENCE_SYN_ACK) |
                                       EVIDENCE_BIT(EVIDENCE_CLIENT_ACK) |
                                       EVIDENCE_BIT(EVIDENCE_EHLO)),
                 EVIDENCE_EHLO);
    cr_assert_eq(evidence_highest_leak(EVIDENCE_BIT(EVIDENCE_DATA) | EVIDENCE_BIT(EVIDENCE_BANNER)),
                 EVIDENCE_DATA);
}

Test(verdict, names_are_the_contract)
{
    cr_assert_str_eq(verdict_name(VERDICT_WOULD_BLOCK), "would_block");
    cr_assert_str_eq(evidence_name(EVIDENCE_ICMP_ADMIN_PROHIBITED), "icmp_admin_prohibited");
    cr_assert_str_eq(evidence_name(EVIDENCE_SYN_CORE_SIDE), "syn_core_side");
    cr_assert_str_eq(evidence_name(EVIDENCE_MAIL_FROM), "mail_from");
    cr_assert_str_eq(evidence_name(EVIDENCE_DATA), "data");
}

Test(verdict, designated_msa_whose_port_closes_would_block)
{
    /* Taken today, refused once the MSA closes its port 25: as a planned blocking point. */
    struct verdict_input input = {.to_designated_msa = true,
                                  .evidence = EVIDENCE_BIT(EVIDENCE_DATA),
                                  .msa_port_closing = true};
    cr_assert_eq(verdict_decide(&input), VERDICT_WOULD_BLOCK);
    input.evidence = EVIDENCE_BIT(EVIDENCE_NO_REPLY);
    cr_assert_eq(verdict_decide(&input), VERDICT_WOULD_BLOCK);
    /* Closing an MSA does not touch attempts that were never its to take. */
    input.to_designated_msa = false;
    cr_assert_eq(verdict_decide(&input), VERDICT_BLOCKED);
    input.msa_port_closing = false;
    input.to_designated_msa = true;
    cr_assert_eq(verdict_decide(&input), VERDICT_ALLOWED);
}
