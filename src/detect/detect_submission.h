/* Submission hygiene (draft sections 4.2 and 4.3: mail is submitted on 587 or 465 with
 * SMTP AUTH, not on port 25): SMTP relayed on other ports (nonstandard_port_smtp), MSAs that
 * take mail without authentication (open_submission), POP-before-SMTP (pop_before_smtp),
 * subscribers who authenticate on port 25 of a third-party server, whom OP25B will cut off
 * (third_party_submission), passwords sent unencrypted (cleartext_auth), and, through
 * detect_msa_abuse.h, what each subscriber does towards the designated MSAs (msa_abuse).
 * See rules/README.md for what each event carries. */
#ifndef OP25B_DETECT_SUBMISSION_H
#define OP25B_DETECT_SUBMISSION_H

#include <stdbool.h>

#include "util/address.h"
#include "detect/detector.h"
#include "policy/policy.h"

struct detector *detect_submission_new(const struct detector_context *context, bool *disabled);

#endif
