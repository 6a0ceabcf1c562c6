#include <criterion/criterion.h>
#include <string.h>

#include "util/json.h"

Test(json, object_with_every_kind_of_value)
{
    char buffer[256];
    struct json_writer w;
    json_init(&w, buffer, sizeof(buffer));
    json_object_begin(&w);
    json_key_string(&w, "s", "a\"b\\c\n\x01");
    json_key_u64(&w, "u", 18446744073709551615ull);
    json_key_i64(&w, "i", -5);
    json_key_bool(&w, "t", true);
    json_key_fixed(&w, "f", 0.125, 3);
    json_key_array_begin(&w, "a");
    json_array_string(&w, "x");
    json_array_string(&w, "y");
    json_array_end(&w);
    json_key_object_begin(&w, "o");
    json_key_bool(&w, "n", false);
    json_object_end(&w);
    json_object_end(&w);
    cr_assert(json_finish(&w));
    cr_assert_str_eq(buffer, "{\"s\":\"a\\\"b\\\\c\\n\\u0001\",\"u\":18446744073709551615,"
                             "\"i\":-5,\"t\":true,\"f\":0.125,\"a\":[\"x\",\"y\"],"
                             "\"o\":{\"n\":false}}\n");
    cr_assert_eq(w.length, strlen(buffer));
}

Test(json, empty_array_and_object)
{
    char buffer[64];
    struct json_writer w;
    json_init(&w, buffer, sizeof(buffer));
    json_object_begin(&w);
    json_key_array_begin(&w, "a");
    json_array_end(&w);
    json_key_object_begin(&w, "o");
    json_object_end(&w);
    json_object_end(&w);
    cr_assert(json_finish(&w));
    cr_assert_str_eq(buffer, "{\"a\":[],\"o\":{}}\n");
}

/* Both string writers: the checked one and the plain copy. */
Test(json, overflow_never_writes_past_the_buffer)
{
    static const char value[] = "a long value that does not fit";
    for (int plain = 0; plain < 2; plain++) {
        for (size_t size = 1; size < 40; size++) {
            char buffer[64];
            memset(buffer, 'Z', sizeof(buffer));
            struct json_writer w;
            json_init(&w, buffer, size);
            json_object_begin(&w);
            if (plain)
                json_key_plain(&w, "key", value, sizeof(value) - 1);
            else
                json_key_string(&w, "key", value);
            json_object_end(&w);
            cr_assert(!json_finish(&w), "size %zu", size);
            for (size_t i = size; i < sizeof(buffer); i++)
                cr_assert_eq(buffer[i], 'Z', "wrote past %zu (plain %d)", size, plain);
        }
    }
}

/* The unchecked copy writes what the checked one writes for text that needs no escaping
 * (it keeps to the buffer: overflow_never_writes_past_the_buffer). */
Test(json, plain_strings_as_the_checked_path_writes_them)
{
    static const char *const texts[] = {"", "tcp", "2026-01-15T09:00:00.000001Z", "2001:db8::1",
                                        "1:gVFjAebz91+BLplb2bjiR9BZw/U="};
    for (size_t t = 0; t < sizeof(texts) / sizeof(texts[0]); t++) {
        char plain[128], checked[128];
        struct json_writer w;
        json_init(&w, plain, sizeof(plain));
        json_object_begin(&w);
        json_key_plain(&w, "k", texts[t], strlen(texts[t]));
        json_object_end(&w);
        cr_assert(json_finish(&w));
        json_init(&w, checked, sizeof(checked));
        json_object_begin(&w);
        json_key_string(&w, "k", texts[t]);
        json_object_end(&w);
        cr_assert(json_finish(&w));
        cr_assert_str_eq(plain, checked);
    }
}

Test(json, non_finite_numbers_stay_valid_json)
{
    char buffer[64];
    struct json_writer w;
    json_init(&w, buffer, sizeof(buffer));
    json_object_begin(&w);
    json_key_fixed(&w, "x", 1.0 / 0.0, 2);
    json_object_end(&w);
    cr_assert(json_finish(&w));
    cr_assert_str_eq(buffer, "{\"x\":0.00}\n");
}

/* RFC 8259 section 7, byte by byte: the reference the writer's fast paths must match. */
static void reference_escape(const char *value, size_t length, char *out)
{
    static const char hex[] = "0123456789abcdef";
    *out++ = '"';
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)value[i];
        if (c == '"' || c == '\\') {
            *out++ = '\\';
            *out++ = (char)c;
        } else if (c == '\n') {
            *out++ = '\\';
            *out++ = 'n';
        } else if (c == '\r') {
            *out++ = '\\';
            *out++ = 'r';
        } else if (c == '\t') {
            *out++ = '\\';
            *out++ = 't';
        } else if (c < 0x20) {
            out += sprintf(out, "\\u00%c%c", hex[c >> 4], hex[c & 15]);
        } else {
            *out++ = (char)c;
        }
    }
    *out++ = '"';
    *out = '\0';
}

Test(json, every_byte_at_every_position_escapes_as_the_reference)
{
    static const unsigned char probes[] = {'"',  '\\', '\n', '\t', 0x01, 0x1f, 0x20, 0x21,
                                           0x5b, 0x5d, 0x7f, 0x80, 0xa2, 0xdc, 0xff};
    for (size_t length = 1; length <= 24; length++) {
        for (size_t position = 0; position < length; position++) {
            for (size_t p = 0; p < sizeof(probes); p++) {
                char value[32];
                memset(value, 'a', length);
                value[position] = (char)probes[p];
                char got[256], want[256];
                struct json_writer w;
                json_init(&w, got, sizeof(got));
                json_value_string(&w, value, length);
                cr_assert(json_finish(&w));
                reference_escape(value, length, want);
                strcat(want, "\n");
                cr_assert_str_eq(got, want, "length %zu, byte 0x%02x at %zu", length, probes[p],
                                 position);
            }
        }
    }
}

/* Members formatted once and copied again: the comma as a key would write it. */
Test(json, members_copied_as_formatted)
{
    char kept[64], buffer[128];
    struct json_writer w;
    json_init(&w, kept, sizeof(kept));
    json_key_string(&w, "pool", "a\"b");
    json_key_u64(&w, "n", 7);
    size_t kept_length = w.length;
    json_init(&w, buffer, sizeof(buffer));
    json_object_begin(&w);
    json_members(&w, kept, kept_length);
    json_key_u64(&w, "x", 1);
    json_members(&w, kept, kept_length);
    json_object_end(&w);
    cr_assert(json_finish(&w));
    cr_assert_str_eq(buffer, "{\"pool\":\"a\\\"b\",\"n\":7,\"x\":1,\"pool\":\"a\\\"b\",\"n\":7}\n");
    json_init(&w, buffer, 8);
    json_members(&w, kept, kept_length);
    cr_assert(w.overflow, "too long for the buffer: overflow, nothing past it");
}
