/*
 * test_policy.c — the policy document parser (server/src/policy.c,
 * docs/policy.md). Every refusal is checked by its exact pointer and
 * message; a document with several mistakes reports each of them.
 *
 *   Test 1: the docs/policy.md example parses; every field lands where documented
 *   Test 2: not JSON, empty, oversized: one error at "/"
 *   Test 3: each error class names its field (wrong type, unknown field, missing
 *           field, out of range, bad enum value, repeated component, unknown
 *           webhook, class mismatch, reference errors under /reference)
 *   Test 4: five mistakes in one document: five errors, in document order
 *   Test 5: actions: both forms, repeats, "notify" without a webhook, "update"
 *           without firmware, more than the limit
 *   Test 6: webhook URLs and secret files
 *   Test 7: every truncation of the example is refused, with at least one error
 *   Test 8: keys repeated anywhere (escaped spellings too) are found
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy.h"

#define H64A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

/* The complete example of docs/policy.md. */
static const char EXAMPLE[] =
    "{\n"
    "  \"class\": \"sim-v1\",\n"
    "  \"version\": 3,\n"
    "  \"reference\": {\n"
    "    \"components\": [{\"type\": \"APM\", \"min_svn\": 1}],\n"
    "    \"tamper\": {\"new_events\": \"fail\"}\n"
    "  },\n"
    "  \"firmware\": {\"APM\": {\"version\": \"1.1\", \"max_in_flight\": 2}},\n"
    "  \"attestation\": {\"interval_s\": 60, \"missed_limit\": 3},\n"
    "  \"keys\": {\"max_age_days\": 365, \"rotation_mode\": \"device\", \"max_parallel\": 2},\n"
    "  \"actions\": {\n"
    "    \"on_fail\": [\"quarantine\", {\"notify\": {\"webhook\": \"ops\"}}],\n"
    "    \"on_tamper\": [{\"revoke\": {}}, {\"notify\": {\"webhook\": \"ops\"}}],\n"
    "    \"on_missed\": [{\"quarantine\": {}}, {\"notify\": {\"webhook\": \"ops\"}}, \"rotate\", "
    "\"update\"]\n"
    "  },\n"
    "  \"webhooks\": {\"ops\": {\"url\": \"https://hooks.example.com/drot\",\n"
    "                         \"secret_file\": \"/etc/drot/webhooks/ops.key\",\n"
    "                         \"max_attempts\": 6, \"backoff_s\": 30}}\n"
    "}\n";

#define MAX_ERRS 32
typedef struct errs {
    size_t n;
    char e[MAX_ERRS][400];
} errs;

static void collect(const char *ptr, const char *msg, void *ctx)
{
    errs *c = ctx;
    if (c->n < MAX_ERRS)
        snprintf(c->e[c->n], sizeof c->e[0], "%s: %s", ptr, msg);
    c->n++;
}

static ds_policy g_pol;
static errs g_errs;

static size_t parse(const char *doc)
{
    memset(&g_errs, 0, sizeof g_errs);
    memset(&g_pol, 0x55, sizeof g_pol);
    size_t n = ds_policy_parse(doc, strlen(doc), &g_pol, collect, &g_errs);
    assert_int_equal(n, g_errs.n);
    if (n != 0) {
        static const ds_policy zero;
        assert_memory_equal(&g_pol, &zero, sizeof zero); /* nothing usable left behind */
    }
    return n;
}

static void dump(void)
{
    for (size_t i = 0; i < g_errs.n && i < MAX_ERRS; i++)
        fprintf(stderr, "  error %zu: %s\n", i, g_errs.e[i]);
}

/* doc must give exactly the one error want. */
static void expect1(const char *doc, const char *want)
{
    size_t n = parse(doc);
    if (n != 1 || strcmp(g_errs.e[0], want) != 0) {
        dump();
        fail_msg("for %s\n  got %zu error(s), first \"%s\"\n  want 1: \"%s\"", doc, n, n ? g_errs.e[0] : "",
                 want);
    }
}

/* A valid minimal policy with the fragment spliced in before the closing brace. */
static char *with(const char *fragment)
{
    static char buf[8192];
    snprintf(
        buf, sizeof buf,
        "{\"class\": \"sim-v1\", \"version\": 1, \"reference\": {\"components\": [{\"type\": \"APM\"}]}%s%s}",
        fragment[0] ? ", " : "", fragment);
    return buf;
}

/* Test 1 */
static void test_example(void **state)
{
    (void)state;
    size_t n = parse(EXAMPLE);
    if (n != 0) {
        dump();
        fail_msg("the example of docs/policy.md does not parse");
    }
    assert_string_equal(g_pol.class_name, "sim-v1");
    assert_int_equal(g_pol.version, 3);
    assert_string_equal(g_pol.reference.class_name, "sim-v1");
    assert_int_equal(g_pol.reference.num_components, 1);
    assert_true(g_pol.reference.components[0].has_min_svn);
    assert_int_equal(g_pol.reference.on_fail, DS_REF_ON_FAIL_NONE);
    assert_int_equal(g_pol.n_firmware, 1);
    assert_string_equal(g_pol.firmware[0].component, "APM");
    assert_string_equal(g_pol.firmware[0].version, "1.1");
    assert_int_equal(g_pol.firmware[0].max_in_flight, 2);
    assert_true(g_pol.has_attestation);
    assert_int_equal(g_pol.interval_s, 60);
    assert_int_equal(g_pol.missed_limit, 3);
    assert_int_equal(ds_policy_stale_after(&g_pol), 60 * 3 + 6);
    assert_true(g_pol.has_keys);
    assert_int_equal(g_pol.max_age_days, 365);
    assert_int_equal(g_pol.rotation_mode, 2);
    assert_int_equal(g_pol.max_parallel, 2);
    assert_int_equal(g_pol.n_actions[DS_POL_ON_FAIL], 2);
    assert_int_equal(g_pol.actions[DS_POL_ON_FAIL][0].kind, DS_POL_QUARANTINE);
    assert_int_equal(g_pol.actions[DS_POL_ON_FAIL][1].kind, DS_POL_NOTIFY);
    assert_string_equal(g_pol.actions[DS_POL_ON_FAIL][1].webhook, "ops");
    assert_int_equal(g_pol.n_actions[DS_POL_ON_TAMPER], 2);
    assert_int_equal(g_pol.actions[DS_POL_ON_TAMPER][0].kind, DS_POL_REVOKE);
    assert_int_equal(g_pol.n_actions[DS_POL_ON_MISSED], 4);
    assert_int_equal(g_pol.actions[DS_POL_ON_MISSED][2].kind, DS_POL_ROTATE);
    assert_int_equal(g_pol.actions[DS_POL_ON_MISSED][3].kind, DS_POL_UPDATE);
    assert_int_equal(g_pol.n_webhooks, 1);
    const ds_pol_webhook *w = ds_policy_webhook(&g_pol, "ops");
    assert_non_null(w);
    assert_string_equal(w->url, "https://hooks.example.com/drot");
    assert_string_equal(w->secret_file, "/etc/drot/webhooks/ops.key");
    assert_int_equal(w->max_attempts, 6);
    assert_int_equal(w->backoff_s, 30);
    assert_null(ds_policy_webhook(&g_pol, "pager"));

    /* The minimal policy: defaults, and validation without an output. */
    assert_int_equal(parse(with("")), 0);
    assert_false(g_pol.has_attestation);
    assert_false(g_pol.has_keys);
    assert_int_equal(ds_policy_stale_after(&g_pol), 0);
    assert_int_equal(parse(with("\"keys\": {\"max_age_days\": 1}")), 0);
    assert_int_equal(g_pol.rotation_mode, 1);
    assert_int_equal(g_pol.max_parallel, 1);
    assert_int_equal(ds_policy_parse(EXAMPLE, strlen(EXAMPLE), NULL, NULL, NULL), 0);
    assert_string_equal(ds_pol_action_name(DS_POL_NOTIFY), "notify");
    assert_string_equal(ds_pol_trigger_name(DS_POL_ON_MISSED), "on_missed");
}

/* Test 2 */
static void test_not_json(void **state)
{
    (void)state;
    assert_int_equal(parse("{\"class\": \"sim-v1\","), 1);
    assert_non_null(strstr(g_errs.e[0], "/: not JSON: "));
    assert_non_null(strstr(g_errs.e[0], "line 1"));
    assert_int_equal(parse(""), 1);
    assert_non_null(strstr(g_errs.e[0], "/: not JSON"));
    assert_int_equal(parse("{} trailing"), 1);
    assert_non_null(strstr(g_errs.e[0], "/: not JSON"));
    expect1("[1, 2]", "/: the policy must be a JSON object");
    size_t big = DS_POL_MAX_JSON + 1;
    char *doc = malloc(big + 1);
    assert_non_null(doc);
    memset(doc, ' ', big);
    doc[big] = '\0';
    expect1(doc, "/: document of 262145 bytes is over the 262144-byte limit");
    free(doc);
    errs e = {0};
    assert_int_equal(ds_policy_parse(NULL, 0, NULL, collect, &e), 1);
}

/* Test 3 */
static void test_error_classes(void **state)
{
    (void)state;
    /* wrong type */
    expect1(
        "{\"class\": \"sim-v1\", \"version\": \"3\", \"reference\": {\"components\": [{\"type\": \"APM\"}]}}",
        "/version: not an integer");
    expect1(with("\"attestation\": [60, 3]"), "/attestation: not an object");
    expect1(with("\"keys\": {\"max_age_days\": 30.5}"), "/keys/max_age_days: not an integer");
    /* unknown field, at the root and nested */
    expect1(with("\"colour\": \"blue\""), "/colour: unknown field");
    expect1(with("\"attestation\": {\"interval_s\": 60, \"missed_limit\": 3, \"every\": 5}"),
            "/attestation/every: unknown field");
    expect1(
        with("\"webhooks\": {\"ops\": {\"url\": \"https://h.example\", \"secret_file\": \"/k\", \"secret\": "
             "\"abc\"}}"),
        "/webhooks/ops/secret: unknown field");
    /* missing required field */
    expect1("{\"class\": \"sim-v1\", \"version\": 1}", "/reference: missing (required)");
    expect1(with("\"attestation\": {\"interval_s\": 60}"), "/attestation/missed_limit: missing (required)");
    expect1(with("\"firmware\": {\"APM\": {\"max_in_flight\": 1}}"),
            "/firmware/APM/version: missing (required)");
    /* out of range */
    expect1(with("\"attestation\": {\"interval_s\": 0, \"missed_limit\": 3}"),
            "/attestation/interval_s: 0 is out of range: must be 1..604800");
    expect1(with("\"keys\": {\"max_age_days\": 30, \"max_parallel\": 100001}"),
            "/keys/max_parallel: 100001 is out of range: must be 1..100000");
    expect1("{\"class\": \"sim-v1\", \"version\": 0, \"reference\": {\"components\": [{\"type\": \"APM\"}]}}",
            "/version: 0 is out of range: must be 1..9007199254740991");
    /* bad enum value */
    expect1(with("\"keys\": {\"max_age_days\": 30, \"rotation_mode\": \"hsm\"}"),
            "/keys/rotation_mode: \"hsm\" is not allowed: must be \"server\" or \"device\"");
    expect1(with("\"actions\": {\"on_fail\": [\"reboot\"]}"),
            "/actions/on_fail/0: \"reboot\" is not allowed: must be \"quarantine\", \"revoke\", \"notify\", "
            "\"rotate\" or \"update\"");
    /* a component named twice */
    expect1(
        with("\"firmware\": {\"APM\": {\"version\": \"1.1\", \"max_in_flight\": 1}, \"APM\": {\"version\": "
             "\"1.2\", \"max_in_flight\": 1}}"),
        "/firmware/APM: named twice in the same object");
    /* unknown webhook */
    expect1(with("\"actions\": {\"on_fail\": [\"quarantine\", {\"notify\": {\"webhook\": \"pager\"}}]}"),
            "/actions/on_fail/1/notify/webhook: no webhook \"pager\" in /webhooks");
    /* class mismatch, and a class that is no class name */
    expect1("{\"class\": \"sim-v1\", \"version\": 1, \"reference\": {\"class\": \"sim-v2\", \"components\": "
            "[{\"type\": \"APM\"}]}}",
            "/reference/class: \"sim-v2\" does not match the class \"sim-v1\"");
    assert_int_equal(parse("{\"class\": \"sim-v1\", \"version\": 1, \"reference\": {\"class\": \"sim-v1\", "
                           "\"components\": [{\"type\": \"APM\"}]}}"),
                     0);
    expect1("{\"class\": \"../etc\", \"version\": 1, \"reference\": {\"class\": \"../etc\", \"components\": "
            "[{\"type\": \"APM\"}]}}",
            "/class: must be 1..64 of [A-Za-z0-9._-], not starting with \".\"");
    /* reference errors are named inside /reference */
    expect1("{\"class\": \"sim-v1\", \"version\": 1, \"reference\": {\"components\": [{\"type\": \"APM\", "
            "\"digests\": [\"abc\"]}]}}",
            "/reference/components/0/digests/0: not 64 hex digits");
    expect1("{\"class\": \"sim-v1\", \"version\": 1, \"reference\": {\"components\": [{\"type\": \"APM\"}], "
            "\"on_fail\": \"quarantine\"}}",
            "/reference/on_fail: not in a policy's reference values: a policy says it in /actions/on_fail");
    expect1(with("\"firmware\": {\"APM\": {\"version\": \"1.1-rc1\", \"max_in_flight\": 1}}"),
            "/firmware/APM/version: \"1.1-rc1\" is not a dotted numeric version (e.g. \"1.2.0\")");
}

/* Test 4 */
static void test_all_errors(void **state)
{
    (void)state;
    const char *doc =
        "{\"class\": \"sim-v1\", \"version\": -1,\n"
        " \"reference\": {\"components\": [{\"type\": \"APM\", \"digests\": [\"" H64A "\", \"zz\"]},"
        " {\"type\": \"HOST\", \"min_svn\": -2}]},\n"
        " \"attestation\": {\"interval_s\": 60, \"missed_limit\": 0},\n"
        " \"keys\": {\"max_age_days\": 30, \"rotation_mode\": \"both\"},\n"
        " \"actions\": {\"on_missed\": [{\"notify\": {\"webhook\": \"nobody\"}}]}}";
    size_t n = parse(doc);
    static const char *const want[] = {
        "/version: -1 is out of range: must be 1..9007199254740991",
        "/reference/components/0/digests/1: not 64 hex digits",
        "/reference/components/1/min_svn: must not be negative",
        "/attestation/missed_limit: 0 is out of range: must be 1..1000",
        "/keys/rotation_mode: \"both\" is not allowed: must be \"server\" or \"device\"",
        "/actions/on_missed/0/notify/webhook: no webhook \"nobody\" in /webhooks",
    };
    if (n != sizeof want / sizeof want[0])
        dump();
    assert_int_equal(n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(g_errs.e[i], want[i]);
}

/* Test 5 */
static void test_actions(void **state)
{
    (void)state;
    assert_int_equal(
        parse(with("\"actions\": {\"on_fail\": [\"quarantine\", {\"revoke\": {}}], \"on_tamper\": "
                   "[\"revoke\"], \"on_missed\": []}")),
        0);
    assert_int_equal(g_pol.n_actions[DS_POL_ON_FAIL], 2);
    assert_int_equal(g_pol.n_actions[DS_POL_ON_MISSED], 0);
    expect1(with("\"actions\": {\"on_fail\": [\"quarantine\", {\"quarantine\": {}}]}"),
            "/actions/on_fail/1: repeats /actions/on_fail/0");
    expect1(with("\"actions\": {\"on_fail\": [\"notify\"]}"),
            "/actions/on_fail/0: \"notify\" needs its webhook: {\"notify\": {\"webhook\": \"<name>\"}}");
    expect1(
        with("\"actions\": {\"on_fail\": [\"update\"]}"),
        "/actions/on_fail/0: \"update\" rolls out the firmware section, and /firmware names no component");
    expect1(
        with("\"actions\": {\"on_fail\": [{\"quarantine\": {}, \"revoke\": {}}]}"),
        "/actions/on_fail/0: must name exactly one action (quarantine, revoke, notify, rotate or update), "
        "not 2");
    expect1(
        with("\"actions\": {\"on_fail\": [{\"reboot\": {}}]}"),
        "/actions/on_fail/0/reboot: unknown action: must be quarantine, revoke, notify, rotate or update");
    expect1(with("\"actions\": {\"on_fail\": [{\"revoke\": {\"now\": true}}]}"),
            "/actions/on_fail/0/revoke/now: unknown field");
    expect1(with("\"actions\": {\"on_fail\": [{\"revoke\": true}]}"),
            "/actions/on_fail/0/revoke: not an object ({})");
    expect1(with("\"actions\": {\"on_fail\": [7]}"),
            "/actions/on_fail/0: not an action: a string (\"quarantine\"…) or an object such as "
            "{\"quarantine\": {}}");
    expect1(with("\"actions\": {\"on_fail\": \"quarantine\"}"), "/actions/on_fail: not an array");
    expect1(with("\"actions\": {\"on_error\": []}"), "/actions/on_error: unknown field");
    expect1(
        with(
            "\"actions\": {\"on_fail\": [\"quarantine\", \"revoke\", \"rotate\", \"quarantine\", \"revoke\", "
            "\"rotate\", \"quarantine\", \"revoke\", \"rotate\"]}"),
        "/actions/on_fail: 9 actions: at most 8");
    /* Two webhooks notified: distinct actions. The same one twice: a repeat. */
#define TWO_HOOKS(extra)                                                                                     \
    "\"webhooks\": {\"a\": {\"url\": \"https://a.example\", \"secret_file\": \"/k/a\"}, \"b\": "             \
    "{\"url\": \"https://b.example\", \"secret_file\": \"/k/b\"}}, \"actions\": {\"on_fail\": "              \
    "[{\"notify\": {\"webhook\": \"a\"}}, {\"notify\": {\"webhook\": \"b\"}}" extra "]}"
    char frag[600];
    snprintf(frag, sizeof frag, "%s", TWO_HOOKS(""));
    assert_int_equal(parse(with(frag)), 0);
    assert_int_equal(g_pol.n_actions[DS_POL_ON_FAIL], 2);
    assert_int_equal(ds_policy_webhook(&g_pol, "b")->max_attempts, DS_POL_DEF_ATTEMPTS);
    assert_int_equal(ds_policy_webhook(&g_pol, "b")->backoff_s, DS_POL_DEF_BACKOFF);
    snprintf(frag, sizeof frag, "%s", TWO_HOOKS(", {\"notify\": {\"webhook\": \"a\"}}"));
    expect1(with(frag), "/actions/on_fail/2: repeats /actions/on_fail/0");
    /* An action naming a webhook that is itself wrong: only the webhook's error. */
    expect1(with("\"webhooks\": {\"ops\": {\"url\": \"ftp://x\", \"secret_file\": \"/k\"}}, \"actions\": "
                 "{\"on_fail\": [{\"notify\": {\"webhook\": \"ops\"}}]}"),
            "/webhooks/ops/url: must be https://…, or http:// to 127.0.0.1, [::1] or localhost");
}

/* Test 6 */
static void test_webhooks(void **state)
{
    (void)state;
    static const char *const good[] = {"https://hooks.example.com/x?y=1", "http://127.0.0.1:9000/hook",
                                       "http://127.0.0.1", "http://[::1]:80/", "http://localhost/h"};
    static const char *const bad[] = {"http://example.com/hook",
                                      "http://127.0.0.1.evil.example/",
                                      "https://",
                                      "https:///path",
                                      "file:///etc/passwd",
                                      "https://a b.example/"};
    char frag[700];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        snprintf(frag, sizeof frag, "\"webhooks\": {\"w\": {\"url\": \"%s\", \"secret_file\": \"/k\"}}",
                 good[i]);
        if (parse(with(frag)) != 0) {
            dump();
            fail_msg("%s refused", good[i]);
        }
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(frag, sizeof frag, "\"webhooks\": {\"w\": {\"url\": \"%s\", \"secret_file\": \"/k\"}}",
                 bad[i]);
        assert_int_equal(parse(with(frag)), 1);
        assert_non_null(strstr(g_errs.e[0], "/webhooks/w/url: "));
    }
    expect1(with("\"webhooks\": {\"w\": {\"url\": \"https://h.example\", \"secret_file\": \"keys/w\"}}"),
            "/webhooks/w/secret_file: must be an absolute path (without \"/../\") to a file on the server");
    expect1(
        with("\"webhooks\": {\"w\": {\"url\": \"https://h.example\", \"secret_file\": \"/etc/../root/k\"}}"),
        "/webhooks/w/secret_file: must be an absolute path (without \"/../\") to a file on the server");
    expect1(with("\"webhooks\": {\"w\": {\"url\": \"https://h.example\"}}"),
            "/webhooks/w/secret_file: missing (required)");
    expect1(with("\"webhooks\": {\"w x\": {\"url\": \"https://h.example\", \"secret_file\": \"/k\"}}"),
            "/webhooks/w x: webhook name must be 1..64 of [A-Za-z0-9._-], not starting with \".\"");
    expect1(with("\"webhooks\": {\"w\": {\"url\": \"https://h.example\", \"secret_file\": \"/k\", "
                 "\"max_attempts\": 0}}"),
            "/webhooks/w/max_attempts: 0 is out of range: must be 1..100");
}

/* Test 7 */
static void test_truncated(void **state)
{
    (void)state;
    size_t len = strlen(EXAMPLE);
    for (size_t cut = 0; cut + 2 < len; cut++) { /* the last two bytes are "}\n" and "\n" */
        errs e = {0};
        size_t n = ds_policy_parse(EXAMPLE, cut, NULL, collect, &e);
        if (n == 0)
            fail_msg("the example cut to %zu bytes was accepted", cut);
    }
}

/* Test 8 */
static void test_duplicates(void **state)
{
    (void)state;
    expect1(with("\"attestation\": {\"interval_s\": 60, \"missed_limit\": 3, \"interval_s\": 30}"),
            "/attestation/interval_s: named twice in the same object");
    expect1(with("\"attestation\": {\"interval_s\": 60, \"missed_limit\": 3, \"interval\\u005fs\": 30}"),
            "/attestation/interval_s: named twice in the same object");
    expect1("{\"class\": \"sim-v1\", \"class\": \"sim-v1\", \"version\": 1, \"reference\": {\"components\": "
            "[{\"type\": \"APM\"}]}}",
            "/class: named twice in the same object");
    expect1(with("\"firmware\": {\"a/b\": {\"version\": \"1\", \"max_in_flight\": 1}, \"a/b\": {\"version\": "
                 "\"2\", \"max_in_flight\": 1}}"),
            "/firmware/a~1b: named twice in the same object");
    /* Three times is one error; the same key in two objects is none. */
    assert_int_equal(parse(with("\"actions\": {\"on_fail\": [], \"on_fail\": [], \"on_fail\": []}")), 1);
    assert_string_equal(g_errs.e[0], "/actions/on_fail: named twice in the same object");
    assert_int_equal(
        parse(with("\"webhooks\": {\"a\": {\"url\": \"https://h.example\", \"secret_file\": \"/k\"}, "
                   "\"b\": {\"url\": \"https://h.example\", \"secret_file\": \"/k\"}}")),
        0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example),       cmocka_unit_test(test_not_json),
        cmocka_unit_test(test_error_classes), cmocka_unit_test(test_all_errors),
        cmocka_unit_test(test_actions),       cmocka_unit_test(test_webhooks),
        cmocka_unit_test(test_truncated),     cmocka_unit_test(test_duplicates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
