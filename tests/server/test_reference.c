/*
 * test_reference.c — reference values of a device class (server/src/reference.c;
 * docs/verifier.md "Reference values").
 *
 * Every refusal is checked by its exact message, which must name the field
 * as a JSON pointer; the document of docs/verifier.md parses as documented.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "reference.h"

#define H64A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define H64B "0123456789abcdefABCDEF0123456789abcdef0123456789abcdef0123456789"
#define H64C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

/* The complete example of docs/verifier.md. */
static const char EXAMPLE[] =
    "{\n"
    "  \"class\": \"sensor-gw-v2\",\n"
    "  \"components\": [\n"
    "    {\"type\": \"APM\", \"digests\": [\"" H64A "\", \"" H64B "\"],\n"
    "     \"signers\": [\"" H64C "\"], \"min_version\": \"1.2.0\", \"min_svn\": 1},\n"
    "    {\"type\": \"HOST-OS\", \"digests\": [], \"min_version\": \"6.1\"}\n"
    "  ],\n"
    "  \"lifecycle\": {\"allow_provisioning\": false},\n"
    "  \"tamper\": {\"fail_on\": [\"intrusion\"], \"warn_on\": [\"voltage\", "
    "\"temperature\"], \"max_count\": 3,\n"
    "             \"new_events\": \"warn\"},\n"
    "  \"require_profile\": \"drot\",\n"
    "  \"on_fail\": \"quarantine\"\n"
    "}\n";

static ds_reference g_ref;

static void expect_error(const char *json, const char *want)
{
    char err[256];
    memset(&g_ref, 0x55, sizeof g_ref);
    memset(err, 'x', sizeof err);
    assert_int_equal(ds_reference_parse(json, strlen(json), &g_ref, err, sizeof err), -1);
    if (strcmp(err, want) != 0)
        fail_msg("for %s\n  got  \"%s\"\n  want \"%s\"", json, err, want);
    /* A failed parse leaves nothing usable behind. */
    static const ds_reference zero;
    assert_memory_equal(&g_ref, &zero, sizeof zero);
}

/* Test 1: the docs/verifier.md example / parses; every field lands where
 * documented (upper-case hex accepted, both lists, tamper masks, count,
 * new_events "warn", on_fail "quarantine"). */
static void test_example_parses(void **state)
{
    char err[256];
    (void)state;
    assert_int_equal(ds_reference_parse(EXAMPLE, strlen(EXAMPLE), &g_ref, err, sizeof err), 0);
    assert_string_equal(err, "");
    assert_string_equal(g_ref.class_name, "sensor-gw-v2");
    assert_int_equal(g_ref.num_components, 2);
    assert_string_equal(g_ref.components[0].type, "APM");
    assert_int_equal(g_ref.components[0].num_digests, 2);
    assert_int_equal(g_ref.components[0].digests[0][31], 0xaa);
    assert_int_equal(g_ref.components[0].digests[1][0], 0x01);
    assert_int_equal(g_ref.components[0].digests[1][5], 0xab);
    assert_int_equal(g_ref.components[0].digests[1][8], 0xab); /* from upper-case "AB" */
    assert_int_equal(g_ref.components[0].num_signers, 1);
    assert_int_equal(g_ref.components[0].signers[0][0], 0xcc);
    assert_true(g_ref.components[0].has_min_version);
    assert_string_equal(g_ref.components[0].min_version, "1.2.0");
    assert_true(g_ref.components[0].has_min_svn);
    assert_int_equal(g_ref.components[0].min_svn, 1);
    assert_string_equal(g_ref.components[1].type, "HOST-OS");
    assert_int_equal(g_ref.components[1].num_digests, 0);
    assert_int_equal(g_ref.components[1].num_signers, 0);
    assert_false(g_ref.components[1].has_min_svn);
    assert_false(g_ref.allow_provisioning);
    assert_int_equal(g_ref.tamper_fail, DS_TAMPER_INTRUSION);
    assert_int_equal(g_ref.tamper_warn, DS_TAMPER_VOLTAGE | DS_TAMPER_TEMPERATURE);
    assert_true(g_ref.has_tamper_max_count);
    assert_int_equal(g_ref.tamper_max_count, 3);
    assert_int_equal(g_ref.tamper_new_events, DS_REF_SEV_WARN);
    assert_int_equal(g_ref.require_profile, DROT_EAT_PROFILE_DROT);
    assert_int_equal(g_ref.on_fail, DS_REF_ON_FAIL_QUARANTINE);
}

/* Test 2: the smallest document / the defaults: drot profile, no
 * provisioning, tamper fail on intrusion and warn on the other three, a
 * risen tamper count fails, no automatic action on FAIL. Also "psa" and
 * allow_provisioning true are read, and an empty tamper object keeps
 * new_events at "fail". */
static void test_defaults(void **state)
{
    static const char min[] = "{\"class\":\"c\",\"components\":[{\"type\":\"APM\"}]}";
    static const char psa[] =
        "{\"class\":\"c\",\"components\":[{\"type\":\"APM\"}],\"require_profile\":\"psa\","
        "\"lifecycle\":{\"allow_provisioning\":true},\"tamper\":{}}";
    (void)state;
    assert_int_equal(ds_reference_parse(min, strlen(min), &g_ref, NULL, 0), 0);
    assert_int_equal(g_ref.require_profile, DROT_EAT_PROFILE_DROT);
    assert_false(g_ref.allow_provisioning);
    assert_int_equal(g_ref.tamper_fail, DS_TAMPER_INTRUSION);
    assert_int_equal(g_ref.tamper_warn, DS_TAMPER_VOLTAGE | DS_TAMPER_TEMPERATURE | DS_TAMPER_LOCKED);
    assert_false(g_ref.has_tamper_max_count);
    assert_int_equal(g_ref.tamper_new_events, DS_REF_SEV_FAIL);
    assert_int_equal(g_ref.on_fail, DS_REF_ON_FAIL_NONE);
    memset(&g_ref, 0x55, sizeof g_ref); /* the defaults are written, not left over */
    assert_int_equal(ds_reference_parse(psa, strlen(psa), &g_ref, NULL, 0), 0);
    assert_int_equal(g_ref.require_profile, DROT_EAT_PROFILE_PSA);
    assert_true(g_ref.allow_provisioning);
    assert_int_equal(g_ref.tamper_fail, 0);
    assert_int_equal(g_ref.tamper_warn, 0);
    assert_int_equal(g_ref.tamper_new_events, DS_REF_SEV_FAIL);
    assert_int_equal(g_ref.on_fail, DS_REF_ON_FAIL_NONE);
}

/* Test 7: tamper/new_events and on_fail, each word / read as written;
 * both together with the other tamper fields. */
static void test_new_events_and_on_fail(void **state)
{
    static const struct {
        const char *json;
        ds_ref_severity sev;
        ds_ref_on_fail on_fail;
    } ok[] = {
        {"{\"class\":\"c\",\"components\":[{\"type\":\"APM\"}],\"tamper\":{\"new_events\":\"fail\"}}",
         DS_REF_SEV_FAIL, DS_REF_ON_FAIL_NONE},
        {"{\"class\":\"c\",\"components\":[{\"type\":\"APM\"}],\"tamper\":{\"new_events\":\"warn\"}}",
         DS_REF_SEV_WARN, DS_REF_ON_FAIL_NONE},
        {"{\"class\":\"c\",\"components\":[{\"type\":\"APM\"}],\"on_fail\":\"none\"}", DS_REF_SEV_FAIL,
         DS_REF_ON_FAIL_NONE},
        {"{\"on_fail\":\"quarantine\",\"class\":\"c\",\"components\":[{\"type\":\"APM\"}],"
         "\"tamper\":{\"fail_on\":[\"intrusion\"],\"new_events\":\"warn\",\"max_count\":0}}",
         DS_REF_SEV_WARN, DS_REF_ON_FAIL_QUARANTINE},
    };
    (void)state;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char err[256];
        memset(&g_ref, 0x55, sizeof g_ref);
        if (ds_reference_parse(ok[i].json, strlen(ok[i].json), &g_ref, err, sizeof err) != 0)
            fail_msg("%s: %s", ok[i].json, err);
        assert_int_equal(g_ref.tamper_new_events, ok[i].sev);
        assert_int_equal(g_ref.on_fail, ok[i].on_fail);
    }
    assert_true(g_ref.has_tamper_max_count);
    assert_int_equal(g_ref.tamper_max_count, 0);
    assert_int_equal(g_ref.tamper_fail, DS_TAMPER_INTRUSION);
}

/* Test 3: one defect per document / refused with the exact field and why. */
static void test_errors_name_the_field(void **state)
{
    static const struct {
        const char *json;
        const char *err;
    } cases[] = {
        {"[]", "/: not an object"},
        {"{\"class\":\"c\",\"components\":[{\"type\":\"APM\"}],\"extra\":1}", "/extra: unknown field"},
        {"{\"components\":[{\"type\":\"APM\"}]}", "/class: missing"},
        {"{\"class\":\"\",\"components\":[{\"type\":\"APM\"}]}", "/class: must be 1..64 characters"},
        {"{\"class\":\"a\\nb\",\"components\":[{\"type\":\"APM\"}]}", "/class: must be printable ASCII"},
        {"{\"class\":7,\"components\":[{\"type\":\"APM\"}]}", "/class: not a string"},
        {"{\"class\":\"c\"}", "/components: missing"},
        {"{\"class\":\"c\",\"components\":{}}", "/components: not an array"},
        {"{\"class\":\"c\",\"components\":[]}", "/components: must hold 1..8 components"},
        {"{\"class\":\"c\",\"components\":[{\"type\":\"APM\"},5]}", "/components/1: not an object"},
        {"{\"class\":\"c\",\"components\":[{\"digests\":[]}]}", "/components/0/type: missing"},
        {"{\"class\":\"c\",\"components\":[{\"type\":\"APM\",\"digest\":[]}]}",
         "/components/0/digest: unknown field"},
        {"{\"class\":\"c\",\"components\":[{\"type\":\"APM\",\"a/b~c\":[]}]}",
         "/components/0/a~1b~0c: unknown field"},
        {"{\"class\":\"c\",\"components\":[{\"type\":\"APM\"},{\"type\":\"X\",\"digests\":[\"" H64A
         "\",\"abc\"]}]}",
         "/components/1/digests/1: not 64 hex digits"},
        {"{\"class\":\"c\",\"components\":[{\"type\":\"APM\",\"digests\":[\"" H64A "\",\"" H64A "\"]}]}",
         "/components/0/digests/1: repeats entry 0"},
        {"{\"class\":\"c\",\"components\":[{\"type\":\"APM\",\"signers\":[\"g" H64A "\"]}]}",
         "/components/0/signers/0: not 64 hex digits"},
        {"{\"class\":\"c\",\"components\":[{\"type\":\"APM\",\"signers\":[\"zz" H64A "\"]}]}",
         "/components/0/signers/0: not 64 hex digits"},
        {"{\"class\":\"c\",\"components\":[{\"type\":\"APM\",\"signers\":\"" H64A "\"}]}",
         "/components/0/signers: not an array"},
        {"{\"class\":\"c\",\"components\":[{\"type\":\"APM\",\"signers\":[1]}]}",
         "/components/0/signers/0: not a string"},
        {"{\"class\":\"c\",\"components\":[{\"type\":\"APM\",\"min_version\":\"1.2.3-rc1\"}]}",
         "/components/0/min_version: not a dotted numeric version (e.g. \"1.2.0\")"},
        {"{\"class\":\"c\",\"components\":[{\"type\":\"APM\",\"min_svn\":-1}]}",
         "/components/0/min_svn: must not be negative"},
        {"{\"class\":\"c\",\"components\":[{\"type\":\"APM\",\"min_svn\":1.5}]}",
         "/components/0/min_svn: not an integer"},
        {"{\"class\":\"c\",\"components\":[{\"type\":\"APM\"},{\"type\":\"APM\"}]}",
         "/components/1/type: type \"APM\" already named by /components/0"},
        {"{\"class\":\"c\",\"components\":[{\"type\":\"APM\"}],\"lifecycle\":{\"allow_provisioning\":1}}",
         "/lifecycle/allow_provisioning: not a boolean"},
        {"{\"class\":\"c\",\"components\":[{\"type\":\"APM\"}],\"lifecycle\":{\"allow\":true}}",
         "/lifecycle/allow: unknown field"},
        {"{\"class\":\"c\",\"components\":[{\"type\":\"APM\"}],\"tamper\":{\"fail_on\":[\"smoke\"]}}",
         "/tamper/fail_on/0: unknown tamper bit (voltage, temperature, intrusion or locked)"},
        {"{\"class\":\"c\",\"components\":[{\"type\":\"APM\"}],\"tamper\":{\"warn_on\":[\"voltage\","
         "\"voltage\"]}}",
         "/tamper/warn_on/1: \"voltage\" listed twice"},
        {"{\"class\":\"c\",\"components\":[{\"type\":\"APM\"}],\"tamper\":{\"fail_on\":[\"voltage\"],"
         "\"warn_on\":[\"voltage\"]}}",
         "/tamper/warn_on: \"voltage\" is also in /tamper/fail_on"},
        {"{\"class\":\"c\",\"components\":[{\"type\":\"APM\"}],\"tamper\":{\"max_count\":\"3\"}}",
         "/tamper/max_count: not an integer"},
        {"{\"class\":\"c\",\"components\":[{\"type\":\"APM\"}],\"require_profile\":\"tfm\"}",
         "/require_profile: must be \"drot\" or \"psa\""},
        {"{\"class\":\"c\",\"components\":[{\"type\":\"APM\"}],\"tamper\":{\"new_events\":\"ignore\"}}",
         "/tamper/new_events: must be \"fail\" or \"warn\""},
        {"{\"class\":\"c\",\"components\":[{\"type\":\"APM\"}],\"tamper\":{\"new_events\":\"WARN\"}}",
         "/tamper/new_events: must be \"fail\" or \"warn\""},
        {"{\"class\":\"c\",\"components\":[{\"type\":\"APM\"}],\"tamper\":{\"new_events\":false}}",
         "/tamper/new_events: not a string"},
        {"{\"class\":\"c\",\"components\":[{\"type\":\"APM\"}],\"tamper\":{\"new_event\":\"warn\"}}",
         "/tamper/new_event: unknown field"},
        {"{\"class\":\"c\",\"components\":[{\"type\":\"APM\"}],\"on_fail\":\"revoke\"}",
         "/on_fail: must be \"none\" or \"quarantine\""},
        {"{\"class\":\"c\",\"components\":[{\"type\":\"APM\"}],\"on_fail\":[\"quarantine\"]}",
         "/on_fail: not a string"},
        {"{\"class\":\"c\",\"components\":[{\"type\":\"APM\"}],\"on_failure\":\"quarantine\"}",
         "/on_failure: unknown field"},
        {"{\"class\":\"c\",\"components\":[{\"type\":\"APM\"}],\"on_fail\":\"none\",\"on_fail\":\"none\"}",
         "/: invalid JSON at line 1 column 69: duplicate object key near '\"on_fail\"'"},
        {"{\"class\":\"c\",\"class\":\"d\",\"components\":[{\"type\":\"APM\"}]}",
         "/: invalid JSON at line 1 column 20: duplicate object key near '\"class\"'"},
        {"{\"class\":\"c\"", "/: invalid JSON at line 1 column 12: '}' expected near end of file"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_error(cases[i].json, cases[i].err);
}

/* Test 4: nine components, seventeen digests, nine signers, a 65-character
 * type, a document over 64 KiB / each refused by its bound. */
static void test_bounds(void **state)
{
    static char doc[80 * 1024];
    size_t o;
    (void)state;

    o = (size_t)snprintf(doc, sizeof doc, "{\"class\":\"c\",\"components\":[");
    for (int i = 0; i < 9; i++)
        o += (size_t)snprintf(doc + o, sizeof doc - o, "%s{\"type\":\"T%d\"}", i ? "," : "", i);
    snprintf(doc + o, sizeof doc - o, "]}");
    expect_error(doc, "/components: must hold 1..8 components");

    o = (size_t)snprintf(doc, sizeof doc, "{\"class\":\"c\",\"components\":[{\"type\":\"APM\",\"digests\":[");
    for (int i = 0; i < 17; i++)
        o += (size_t)snprintf(doc + o, sizeof doc - o, "%s\"%062x%02x\"", i ? "," : "", 0, i);
    snprintf(doc + o, sizeof doc - o, "]}]}");
    expect_error(doc, "/components/0/digests: more than 16 entries");
    /* sixteen is fine */
    o = (size_t)snprintf(doc, sizeof doc, "{\"class\":\"c\",\"components\":[{\"type\":\"APM\",\"digests\":[");
    for (int i = 0; i < 16; i++)
        o += (size_t)snprintf(doc + o, sizeof doc - o, "%s\"%062x%02x\"", i ? "," : "", 0, i);
    snprintf(doc + o, sizeof doc - o, "]}]}");
    assert_int_equal(ds_reference_parse(doc, strlen(doc), &g_ref, NULL, 0), 0);
    assert_int_equal(g_ref.components[0].num_digests, 16);

    o = (size_t)snprintf(doc, sizeof doc, "{\"class\":\"c\",\"components\":[{\"type\":\"APM\",\"signers\":[");
    for (int i = 0; i < 9; i++)
        o += (size_t)snprintf(doc + o, sizeof doc - o, "%s\"%062x%02x\"", i ? "," : "", 0, i);
    snprintf(doc + o, sizeof doc - o, "]}]}");
    expect_error(doc, "/components/0/signers: more than 8 entries");

    snprintf(doc, sizeof doc, "{\"class\":\"c\",\"components\":[{\"type\":\"%065d\"}]}", 0);
    expect_error(doc, "/components/0/type: must be 1..64 characters");

    memset(doc, ' ', sizeof doc);
    memcpy(doc, EXAMPLE, strlen(EXAMPLE));
    {
        char err[128];
        assert_int_equal(ds_reference_parse(doc, DS_REF_MAX_JSON, &g_ref, err, sizeof err), 0);
        assert_int_equal(ds_reference_parse(doc, DS_REF_MAX_JSON + 1, &g_ref, err, sizeof err), -1);
        assert_string_equal(err, "/: document of 65537 bytes is over the 65536-byte limit");
    }
}

/* Test 5: a small error buffer, NULL err, NULL document / the message is
 * cut and NUL-terminated, nothing written past errlen; NULL refused. */
static void test_error_buffer(void **state)
{
    static const char bad[] = "{\"class\":\"c\",\"components\":[{\"type\":\"APM\",\"oops\":1}]}";
    char err[12];
    (void)state;
    memset(err, 'x', sizeof err);
    assert_int_equal(ds_reference_parse(bad, strlen(bad), &g_ref, err, 8), -1);
    assert_string_equal(err, "/compon");
    assert_int_equal(err[8], 'x');
    assert_int_equal(ds_reference_parse(bad, strlen(bad), &g_ref, NULL, 0), -1);
    assert_int_equal(ds_reference_parse(NULL, 3, &g_ref, err, sizeof err), -1);
    assert_int_equal(ds_reference_parse(bad, strlen(bad), NULL, err, sizeof err), -1);
}

/* Test 6: dotted numeric versions / numeric per part, missing parts are 0,
 * anything else (suffixes, empty parts, signs, 10-digit parts, 9 parts) is
 * not comparable. */
static void test_version_compare(void **state)
{
    static const struct {
        const char *a, *b;
        int cmp;
    } ok[] = {
        {"1.2.0", "1.3.0", -1}, {"1.10", "1.9", 1},       {"1.2", "1.2.0", 0},
        {"2", "1.99.99", 1},    {"0.0.1", "0", 1},        {"01.2", "1.2", 0},
        {"1.2.3", "1.2.3", 0},  {"999999999", "1000", 1}, {"1.2.3.4.5.6.7.8", "1.2.3.4.5.6.7.9", -1},
    };
    static const char *const bad[] = {"",   "1.",   ".1",        "1..2",       "1.2.3-rc1",        "v1",
                                      "-1", "1.2 ", "os-2024.1", "1234567890", "1.2.3.4.5.6.7.8.9"};
    int cmp;
    (void)state;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        cmp = 42;
        assert_int_equal(ds_version_compare(ok[i].a, strlen(ok[i].a), ok[i].b, strlen(ok[i].b), &cmp), 0);
        if (cmp != ok[i].cmp)
            fail_msg("%s vs %s: %d, want %d", ok[i].a, ok[i].b, cmp, ok[i].cmp);
        assert_int_equal(ds_version_compare(ok[i].b, strlen(ok[i].b), ok[i].a, strlen(ok[i].a), &cmp), 0);
        assert_int_equal(cmp, -ok[i].cmp);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (ds_version_compare(bad[i], strlen(bad[i]), "1", 1, &cmp) != -1)
            fail_msg("\"%s\" accepted", bad[i]);
        assert_int_equal(ds_version_compare("1", 1, bad[i], strlen(bad[i]), &cmp), -1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_parses),         cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_errors_name_the_field),  cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_error_buffer),           cmocka_unit_test(test_version_compare),
        cmocka_unit_test(test_new_events_and_on_fail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
