/* The SMTP facts of a dialogue as named fields: the one description of the smtp object of
 * attempts and findings (dashboards/events.md). The two differ in what they show: an
 * attempt leaves out what its capture could not know; a finding, written once the server
 * answered, always says auth and starttls, and counts MAIL FROM accepted. */
#ifndef OP25B_SMTP_FIELDS_H
#define OP25B_SMTP_FIELDS_H

#include <stdbool.h>

#include "proto/smtp.h"
#include "record/field_walker.h"

enum smtp_fields_kind {
    SMTP_FIELDS_ATTEMPT,
    SMTP_FIELDS_FINDING,
};

/* Whether a dialogue's capture shows if AUTH succeeded, and if STARTTLS was taken: a
 * command not seen may have been either (dashboards/events.md, "When part of a dialogue was
 * not seen"). The attempt event and the audit report's leaks say the same. */
bool smtp_auth_known(const struct smtp_facts *smtp);
bool smtp_starttls_known(const struct smtp_facts *smtp, bool server_seen);

/* Walks the "smtp" object, from its opening to its end. server_seen (attempts): the
 * server's side of the dialogue was seen, so its answers are known. */
void smtp_fields_walk(const struct smtp_facts *smtp, enum smtp_fields_kind kind, bool server_seen,
                      const struct field_walker *walker, void *context);

#endif
