#include <criterion/criterion.h>
#include <string.h>

#include "json.h"

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

Test(json, overflow_never_writes_past_the_buffer)
{
    for (size_t size = 1; size < 40; size++) {
        char buffer[64];
        memset(buffer, 'Z', sizeof(buffer));
        struct json_writer w;
        json_init(&w, buffer, size);
        json_object_begin(&w);
        json_key_string(&w, "key", "a long value that does not fit");
        json_object_end(&w);
        cr_assert(!json_finish(&w), "size %zu", size);
        for (size_t i = size; i < sizeof(buffer); i++)
            cr_assert_eq(buffer[i], 'Z', "wrote past %zu", size);
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
