/* MST key heights and common prefixes: the official interop fixtures. The
 * walk itself is tested against real proofs in test_proof.c. */
#include "atproto/atproto.h"
#include "common/test.h"

#include <jansson.h>

static void test_heights(void)
{
    json_error_t jerr;
    json_t *all = json_load_file(atv_test_shared("vectors/atproto-interop/mst/key_heights.json"),
                                 0, &jerr);
    size_t i, ok = 0;
    json_t *c;

    CHECK_MSG(json_array_size(all) >= 9, "key_heights.json has %zu cases",
              json_array_size(all));
    json_array_foreach(all, i, c)
    {
        const char *key = json_string_value(json_object_get(c, "key"));
        json_int_t want = json_integer_value(json_object_get(c, "height"));
        if (key != NULL && (json_int_t)atv_atp_mst_height(atv_bytes_str(key)) == want) {
            ok++;
        } else {
            DIAG("height mismatch for case %zu", i);
        }
    }
    CHECK_MSG(ok == json_array_size(all) && ok > 0, "%zu/%zu key heights match", ok,
              json_array_size(all));
    json_decref(all);
}

static void test_prefixes(void)
{
    json_error_t jerr;
    json_t *all = json_load_file(atv_test_shared("vectors/atproto-interop/mst/common_prefix.json"),
                                 JSON_ALLOW_NUL, &jerr);
    size_t i, ok = 0;
    json_t *c;

    CHECK_MSG(json_array_size(all) >= 13, "common_prefix.json has %zu cases",
              json_array_size(all));
    json_array_foreach(all, i, c)
    {
        json_t *l = json_object_get(c, "left"), *r = json_object_get(c, "right");
        struct atv_bytes a = {(const uint8_t *)json_string_value(l), json_string_length(l)};
        struct atv_bytes b = {(const uint8_t *)json_string_value(r), json_string_length(r)};
        json_int_t want = json_integer_value(json_object_get(c, "len"));
        if ((json_int_t)atv_atp_mst_common_prefix(a, b) == want) {
            ok++;
        } else {
            DIAG("prefix mismatch for case %zu", i);
        }
    }
    CHECK_MSG(ok == json_array_size(all) && ok > 0, "%zu/%zu common prefixes match", ok,
              json_array_size(all));
    json_decref(all);
}

/* example_keys.txt: each key's second character is its expected height. */
static void test_example_keys(void)
{
    FILE *f = fopen(atv_test_shared("vectors/atproto-interop/mst/example_keys.txt"), "r");
    char line[256];
    size_t n = 0, ok = 0;

    CHECK_MSG(f != NULL, "example_keys.txt opens");
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        size_t len = strcspn(line, "\n");
        line[len] = '\0';
        if (len < 2 || line[0] == '#') {
            continue;
        }
        n++;
        if (atv_atp_mst_height(atv_bytes_str(line)) == (unsigned)(line[1] - '0')) {
            ok++;
        } else {
            DIAG("height mismatch for example key %zu", n);
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    CHECK_MSG(n >= 150 && ok == n, "%zu/%zu example key heights match", ok, n);
}

int main(void)
{
    test_heights();
    test_prefixes();
    test_example_keys();
    return atv_test_done();
}
