#include "record/smtp_fields.h"

static void walk_greeting(const struct smtp_facts *smtp, const struct field_walker *walker,
                          void *context)
{
    if (smtp->banner_seen) {
        if (!smtp->banner_cut)
            walker->string(context, "banner", smtp->banner);
        walker->u64(context, "banner_code", smtp->banner_code);
    }
    if (smtp->helo_seen) {
        walker->string(context, "helo", smtp->helo);
        walker->string(context, "helo_command", smtp->ehlo ? "EHLO" : "HELO");
    }
}

/* What part of a dialogue the capture did not show leaves unknown (smtp.h): a count that
 * may be too low, or an answer that may belong to another command, is left out, never
 * written as if it were whole (dashboards/events.md, "When part of a dialogue was not
 * seen"). */
static bool commands_known(const struct smtp_facts *smtp)
{
    return !smtp->commands_unseen;
}

static bool answers_known(const struct smtp_facts *smtp, bool answers_unseen)
{
    return !smtp->commands_unseen && !answers_unseen;
}

/* auth is known when it succeeded or failed, or when no AUTH was sent at all (which only a
 * dialogue whose commands were all seen shows); an AUTH whose answer the capture did not
 * show leaves it unknown. */
bool smtp_auth_known(const struct smtp_facts *smtp)
{
    return smtp->auth_success || smtp->auth_failed ||
           (!smtp->auth_attempted && commands_known(smtp));
}

/* Not requested is only known when every command was seen. */
bool smtp_starttls_known(const struct smtp_facts *smtp, bool server_seen)
{
    return smtp->starttls_requested || (server_seen && commands_known(smtp));
}

static void walk_counts(const struct smtp_facts *smtp, const struct field_walker *walker,
                        void *context, bool with_mail_accepted)
{
    if (commands_known(smtp))
        walker->u64(context, "mail_count", smtp->mail_count);
    if (with_mail_accepted && answers_known(smtp, smtp->mail_answers_unseen))
        walker->u64(context, "mail_accepted", smtp->mail_accepted);
    if (commands_known(smtp))
        walker->u64(context, "rcpt_count", smtp->rcpt_count);
}

static void walk_attempt(const struct smtp_facts *smtp, bool server_seen,
                         const struct field_walker *walker, void *context)
{
    if (smtp_auth_known(smtp))
        walker->boolean(context, "auth", smtp->auth_success);
    if (smtp->auth_mechanism[0] != '\0')
        walker->string(context, "auth_mechanism", smtp->auth_mechanism);
    if (smtp_starttls_known(smtp, server_seen))
        walker->boolean(context, "starttls", smtp->starttls_accepted);
    if (smtp->mail_count > 0) {
        if (smtp->mail_from_null)
            walker->string(context, "mail_from_domain", "");
        else if (smtp->mail_from_domain[0] != '\0')
            walker->string(context, "mail_from_domain", smtp->mail_from_domain);
    }
    walk_counts(smtp, walker, context, false);
    if (server_seen && answers_known(smtp, smtp->rcpt_answers_unseen)) {
        walker->u64(context, "rcpt_accepted", smtp->rcpt_accepted);
        walker->u64(context, "rcpt_rejected", smtp->rcpt_rejected);
    }
    if (commands_known(smtp))
        walker->u64(context, "data_count", smtp->data_count);
    if (server_seen && answers_known(smtp, smtp->message_answers_unseen))
        walker->u64(context, "messages_accepted", smtp->messages_accepted);
    if (server_seen && smtp->last_reply_code != 0 && !smtp->last_reply_unseen)
        walker->u64(context, "last_reply", smtp->last_reply_code);
    if (smtp->invalid_commands > 0)
        walker->u64(context, "invalid_commands", smtp->invalid_commands);
    if (smtp->quit_seen || commands_known(smtp))
        walker->boolean(context, "quit", smtp->quit_seen);
}

static void walk_finding(const struct smtp_facts *smtp, const struct field_walker *walker,
                         void *context)
{
    walker->boolean(context, "auth", smtp->auth_success);
    if (smtp->auth_mechanism[0] != '\0')
        walker->string(context, "auth_mechanism", smtp->auth_mechanism);
    walker->boolean(context, "starttls", smtp->starttls_accepted);
    if (smtp->mail_count > 0 && !smtp->mail_from_null && smtp->mail_from_domain[0] != '\0')
        walker->string(context, "mail_from_domain", smtp->mail_from_domain);
    walk_counts(smtp, walker, context, true);
    if (answers_known(smtp, smtp->rcpt_answers_unseen)) {
        walker->u64(context, "rcpt_accepted", smtp->rcpt_accepted);
        walker->u64(context, "rcpt_rejected", smtp->rcpt_rejected);
    }
    if (commands_known(smtp))
        walker->u64(context, "data_count", smtp->data_count);
    if (answers_known(smtp, smtp->message_answers_unseen))
        walker->u64(context, "messages_accepted", smtp->messages_accepted);
}

void smtp_fields_walk(const struct smtp_facts *smtp, enum smtp_fields_kind kind, bool server_seen,
                      const struct field_walker *walker, void *context)
{
    walker->object_begin(context, "smtp");
    walk_greeting(smtp, walker, context);
    if (kind == SMTP_FIELDS_ATTEMPT)
        walk_attempt(smtp, server_seen, walker, context);
    else
        walk_finding(smtp, walker, context);
    walker->object_end(context);
}
