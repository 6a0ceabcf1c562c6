/* A finding's facts as the report lists them: one JSON object ({"a":1,"o":{"b":true},
 * "l":["x"]}) or one line of text (a=1, o={b=true}, l=[x]), walked from the same field
 * description as the event line (record/finding_fields.h). */
#include <stdio.h>
#include <stdlib.h>

#include "record/finding_fields.h"
#include "report/report.h"
#include "util/json.h"

#define NESTING_MAX 8

struct listing {
    FILE *out;
    bool json;
    int depth;
    bool in_list[NESTING_MAX];
    bool need_comma[NESTING_MAX];
};

/* The separator and the name (not inside a list) every field starts with. */
static void begin_field(struct listing *listing, const char *name)
{
    FILE *out = listing->out;
    if (listing->need_comma[listing->depth])
        fputs(listing->json ? "," : ", ", out);
    listing->need_comma[listing->depth] = true;
    if (listing->in_list[listing->depth])
        return;
    if (listing->json) {
        json_fput_string(out, name != NULL ? name : "");
        fputc(':', out);
    } else {
        fprintf(out, "%s=", name != NULL ? name : "");
    }
}

static void put_text(struct listing *listing, const char *text)
{
    if (listing->json)
        json_fput_string(listing->out, text);
    else
        fputs(text, listing->out);
}

static void put_u64(void *context, const char *name, uint64_t value)
{
    struct listing *listing = context;
    begin_field(listing, name);
    fprintf(listing->out, "%llu", (unsigned long long)value);
}

static void put_string(void *context, const char *name, const char *value)
{
    begin_field(context, name);
    put_text(context, value);
}

static void put_boolean(void *context, const char *name, bool value)
{
    struct listing *listing = context;
    begin_field(listing, name);
    fputs(value ? "true" : "false", listing->out);
}

static void put_fixed(void *context, const char *name, double value, int decimals)
{
    struct listing *listing = context;
    begin_field(listing, name);
    fprintf(listing->out, "%.*f", decimals, value);
}

static void put_address(void *context, const char *name, const struct address *value)
{
    char text[ADDRESS_TEXT_MAX];
    address_format(value, text, sizeof(text));
    begin_field(context, name);
    put_text(context, text);
}

static void put_time(void *context, const char *name, packet_time value)
{
    char text[PACKET_TIME_TEXT_MAX];
    packet_time_format(value, text, sizeof(text));
    begin_field(context, name);
    put_text(context, text);
}

static void open_level(struct listing *listing, const char *name, bool list)
{
    begin_field(listing, name);
    if (listing->depth + 1 >= NESTING_MAX)
        return;
    listing->depth++;
    listing->in_list[listing->depth] = list;
    listing->need_comma[listing->depth] = false;
    fputc(list ? '[' : '{', listing->out);
}

static void close_level(struct listing *listing)
{
    if (listing->depth == 0)
        return;
    fputc(listing->in_list[listing->depth] ? ']' : '}', listing->out);
    listing->depth--;
}

static void put_object(void *context, const char *name)
{
    open_level(context, name, false);
}

static void put_list(void *context, const char *name)
{
    open_level(context, name, true);
}

static void put_end(void *context)
{
    close_level(context);
}

static const struct field_walker listing_walker = {
    .u64 = put_u64,
    .string = put_string,
    .boolean = put_boolean,
    .fixed = put_fixed,
    .address = put_address,
    .time = put_time,
    .object_begin = put_object,
    .object_end = put_end,
    .list_begin = put_list,
    .list_end = put_end,
};

char *report_finding_fields(const struct report *report, const struct finding *finding, bool json)
{
    char *text = NULL;
    size_t length = 0;
    FILE *out = open_memstream(&text, &length);
    if (out == NULL)
        return NULL;
    struct listing listing = {.out = out, .json = json};
    if (json)
        fputc('{', out);
    finding_walk(finding, report->policy, &listing_walker, &listing);
    while (listing.depth > 0)
        close_level(&listing);
    if (json)
        fputc('}', out);
    if (fclose(out) != 0) {
        free(text);
        return NULL;
    }
    return text;
}
