/*
 * drotctl_policy.c — the policy commands of drotctl (docs/policy.md; admin
 * API, docs/api.md "Policies"):
 *
 *   drotctl policy validate FILE [--json]                  offline, no server
 *   drotctl [GLOBAL] policy plan FILE [--json]             what it would do; changes nothing
 *   drotctl [GLOBAL] policy apply FILE [--json]            store it; the server carries it out
 *   drotctl [GLOBAL] policy get CLASS [--version N] [--json]
 *   drotctl [GLOBAL] policy list [CLASS] [--json]          live versions; or CLASS's versions
 *   drotctl [GLOBAL] policy status CLASS [--json]          each device: stale, failed, due
 *   drotctl [GLOBAL] policy actions CLASS [--device ID] [--limit N] [--json]
 *   drotctl [GLOBAL] device clear ID --reason TEXT [--json]
 *   drotctl [GLOBAL] webhooks deliveries [--state S] [--limit N] [--json]
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "drotctl.h"
#include "policy.h"

static const char k_usage_policy[] =
    "usage: drotctl policy validate FILE [--json]\n"
    "       drotctl [GLOBAL] policy plan FILE [--json]\n"
    "       drotctl [GLOBAL] policy apply FILE [--json]\n"
    "       drotctl [GLOBAL] policy get CLASS [--version N] [--json]\n"
    "       drotctl [GLOBAL] policy list [CLASS] [--json]\n"
    "       drotctl [GLOBAL] policy status CLASS [--json]\n"
    "       drotctl [GLOBAL] policy actions CLASS [--device ID] [--limit N] [--json]\n"
    "\n"
    "The policy of a device class (docs/policy.md): reference values, wanted firmware,\n"
    "attestation interval and missed-attestation limit, key age, actions on FAIL, tamper\n"
    "and missed attestations, webhooks.\n"
    "validate  checks FILE here, without a server: every error, each naming its field as a\n"
    "          JSON pointer; exit status 1 if there is any\n"
    "plan      asks the server what FILE would do to the class's devices: verdicts of their\n"
    "          last evidence, intervals, staleness, failed flags cleared, rotations by key\n"
    "          age, firmware; nothing is changed\n"
    "apply     stores FILE as the class's new version (its version must be above the live\n"
    "          one) and the server carries out the actions plan lists\n"
    "get       a stored version (default: the live one)\n"
    "list      the live version of every class, or every version of CLASS\n"
    "status    each device of CLASS: status, last attestation, stale, failed, when it is due\n"
    "actions   what the policy engine did (or will do) to the devices of CLASS, newest first\n";

static const char k_usage_device[] =
    "usage: drotctl [GLOBAL] device clear ID --reason TEXT [--json]\n"
    "\n"
    "A device that attested FAIL stays failed, whatever its later attestations\n"
    "say, until an operator clears it (or a new policy's reference values no\n"
    "longer fail that evidence: docs/policy.md). clear does, recording who and\n"
    "why. It does not change the device's status: 'drotctl devices activate'\n"
    "ends a quarantine.\n";

static const char k_usage_webhooks[] =
    "usage: drotctl [GLOBAL] webhooks deliveries [--state S] [--limit N] [--json]\n"
    "\n"
    "The policy engine's webhook events, newest first, with every attempt:\n"
    "S is pending (waiting for its next attempt), delivered (a 2xx answer)\n"
    "or failed (max_attempts used up).\n";

/* ---- validate ---------------------------------------------------------------------------- */

typedef struct errs {
    const char *file;
    bool json;
    json_t *arr;
} errs;

static void on_error(const char *ptr, const char *msg, void *ctx)
{
    errs *e = ctx;
    if (e->json)
        json_array_append_new(e->arr, json_pack("{s:s, s:s}", "pointer", ptr, "message", msg));
    else
        fprintf(stderr, "%s: %s: %s\n", e->file, ptr, msg);
}

/* Parses FILE; 0 and *p when valid, else 1 after printing every error. */
static int load_policy(const char *file, bool json, ds_policy *p, char **doc, json_t **errors)
{
    size_t len = 0;
    *doc = slurp(file, DS_POL_MAX_JSON + 1, &len);
    if (*doc == NULL)
        return 1;
    errs e = {file, json, json ? json_array() : NULL};
    size_t n = ds_policy_parse(*doc, len, p, on_error, &e);
    if (errors != NULL)
        *errors = e.arr;
    else
        json_decref(e.arr);
    if (n != 0 && !json)
        errmsg("%s: %zu error%s: nothing was %s", file, n, n == 1 ? "" : "s", "sent");
    return n == 0 ? 0 : 1;
}

static void summary(const ds_policy *p, char *out, size_t cap)
{
    int o = snprintf(out, cap, "class %s, version %lld: %zu reference component(s)", p->class_name,
                     (long long)p->version, p->reference.num_components);
    if (p->has_attestation)
        o += snprintf(out + o, cap - (size_t)o, "; attestation every %u s, stale after %lld s", p->interval_s,
                      (long long)ds_policy_stale_after(p));
    if (p->has_keys)
        o += snprintf(out + o, cap - (size_t)o, "; keys at most %u days old (%s mode, %u in parallel)",
                      p->max_age_days, p->rotation_mode == 2 ? "device" : "server", p->max_parallel);
    snprintf(out + o, cap - (size_t)o,
             "; %zu firmware component(s); actions: %zu on_fail, %zu on_tamper, %zu "
             "on_missed; %zu webhook(s)",
             p->n_firmware, p->n_actions[DS_POL_ON_FAIL], p->n_actions[DS_POL_ON_TAMPER],
             p->n_actions[DS_POL_ON_MISSED], p->n_webhooks);
}

static int cmd_validate(const char *file, bool json)
{
    ds_policy *p = malloc(sizeof *p);
    char *doc = NULL, line[600];
    json_t *errors = NULL;
    if (p == NULL) {
        errmsg("out of memory");
        return 1;
    }
    int rc = load_policy(file, json, p, &doc, &errors);
    if (doc == NULL) {
        free(p);
        return 1;
    }
    if (json) {
        json_t *o = json_pack("{s:s, s:b, s:o}", "file", file, "valid", rc == 0, "errors",
                              errors != NULL ? errors : json_array());
        if (rc == 0) {
            json_object_set_new(o, "class", json_string(p->class_name));
            json_object_set_new(o, "version", json_integer(p->version));
        }
        print_json(o);
    } else if (rc == 0) {
        summary(p, line, sizeof line);
        printf("%s: valid: %s\n", file, line);
    }
    free(doc);
    free(p);
    return rc;
}

/* ---- plan, apply -------------------------------------------------------------------------- */

static const char *vname(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? s : "?";
}

static void print_plan(const json_t *r, bool applied)
{
    const json_t *iv = json_object_get(r, "interval_s"), *sum = json_object_get(r, "summary");
    json_int_t live = json_integer_value(json_object_get(r, "live_version"));
    char lv[32] = "none";
    if (live)
        snprintf(lv, sizeof lv, "%lld", (long long)live);
    printf("policy %s version %lld (live: %s); interval %lld s -> %lld s", jstr(r, "class"),
           (long long)json_integer_value(json_object_get(r, "version")), lv,
           (long long)json_integer_value(json_object_get(iv, "live")),
           (long long)json_integer_value(json_object_get(iv, "new")));
    if (json_integer_value(json_object_get(r, "stale_after_s")) > 0)
        printf("; stale after %lld s", (long long)json_integer_value(json_object_get(r, "stale_after_s")));
    printf("\n%-32s %-12s %-20s %-14s %-6s %s\n", "DEVICE", "STATUS", "LAST ATTEST", "VERDICT", "STALE",
           "FAILED");
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(r, "devices"), i, d)
    {
        char t[32], verdict[32] = "-";
        jtime(d, "last_attest_at", t);
        const json_t *ev = json_object_get(d, "evidence");
        if (json_is_object(ev))
            snprintf(verdict, sizeof verdict, "%s->%s%s", vname(ev, "live"), vname(ev, "new"),
                     json_is_true(json_object_get(ev, "changes")) ? " *" : "");
        printf("%-32s %-12s %-20s %-14s %-6s %s\n", jstr(d, "device_id"), jstr(d, "status"), t, verdict,
               json_is_true(json_object_get(d, "stale_under_new")) ? "yes" : "no",
               json_is_true(json_object_get(d, "failed"))
                   ? (json_is_true(json_object_get(d, "clear_failed")) ? "yes -> cleared" : "yes")
                   : "no");
    }
    printf("%s:\n", applied ? "actions carried out" : "actions apply would carry out");
    json_array_foreach(json_object_get(r, "actions"), i, d)
    {
        const char *a = jstr(d, "action");
        if (strcmp(a, "update") == 0) {
            char roll[48] = "";
            if (json_is_integer(json_object_get(d, "rollout_id")))
                snprintf(roll, sizeof roll, ": rollout %lld",
                         (long long)json_integer_value(json_object_get(d, "rollout_id")));
            printf("  update  %s -> %s, at most %lld in flight: %zu device(s)%s%s%s\n", jstr(d, "component"),
                   jstr(d, "version"), (long long)json_integer_value(json_object_get(d, "max_in_flight")),
                   json_array_size(json_object_get(d, "devices")), roll,
                   json_object_get(d, "error") != NULL ? ": " : "",
                   json_object_get(d, "error") != NULL ? jstr(d, "error") : "");
        } else if (strcmp(a, "rotate") == 0 && json_object_get(d, "job_id") != NULL)
            printf("  rotate  %s: job %lld in campaign %lld (%s mode)\n", jstr(d, "device_id"),
                   (long long)json_integer_value(json_object_get(d, "job_id")),
                   (long long)json_integer_value(json_object_get(d, "campaign_id")), jstr(d, "mode"));
        else if (strcmp(a, "rotate") == 0) {
            char t[32];
            jtime(d, "key_since", t);
            printf("  rotate  %s (key since %s, %s mode)%s%s\n", jstr(d, "device_id"), t, jstr(d, "mode"),
                   json_object_get(d, "error") != NULL ? ": " : "",
                   json_object_get(d, "error") != NULL ? jstr(d, "error") : "");
        } else
            printf("  %-7s %s (its failing attestation %lld now passes)\n", a, jstr(d, "device_id"),
                   (long long)json_integer_value(json_object_get(d, "attestation_id")));
    }
    if (json_array_size(json_object_get(r, "actions")) == 0)
        printf("  none\n");
    printf("%lld device(s): %lld verdict change(s), %lld would go stale, %lld failed flag(s) cleared, %lld "
           "rotation(s), %lld firmware component(s)\n",
           (long long)json_integer_value(json_object_get(sum, "devices")),
           (long long)json_integer_value(json_object_get(sum, "verdict_changes")),
           (long long)json_integer_value(json_object_get(sum, "stale")),
           (long long)json_integer_value(json_object_get(sum, "clears")),
           (long long)json_integer_value(json_object_get(sum, "rotations")),
           (long long)json_integer_value(json_object_get(sum, "firmware")));
}

static int cmd_plan(const admin_opts *g, const char *file, bool apply, bool json)
{
    ds_policy *p = malloc(sizeof *p);
    char *doc = NULL, path[200];
    json_t *r = NULL;
    if (p == NULL) {
        errmsg("out of memory");
        return 1;
    }
    int rc = load_policy(file, false, p, &doc, NULL);
    if (rc == 0) {
        snprintf(path, sizeof path, "/v1/admin/policies/%s%s", p->class_name, apply ? "" : "/plan");
        rc = admin_call(g, "POST", path, doc, &r);
    }
    if (rc == 0) {
        if (json) {
            rc = print_json(r);
        } else {
            print_plan(r, apply);
            json_decref(r);
        }
    }
    free(doc);
    free(p);
    return rc;
}

/* ---- reading ---------------------------------------------------------------------------------- */

static int cmd_get(const admin_opts *g, const char *cls, const char *version, bool json)
{
    char path[200], t[32];
    json_t *r = NULL;
    snprintf(path, sizeof path, "/v1/admin/policies/%s%s%s", cls, version != NULL ? "?version=" : "",
             version != NULL ? version : "");
    int rc = admin_call(g, "GET", path, NULL, &r);
    if (rc != 0)
        return rc;
    if (json)
        return print_json(r);
    jtime(r, "applied_at", t);
    fprintf(stderr, "policy %s version %lld, applied %s by %s\n", jstr(r, "class"),
            (long long)json_integer_value(json_object_get(r, "version")), t, jstr(r, "applied_by"));
    json_t *doc = json_incref(json_object_get(r, "document"));
    json_decref(r);
    return print_json(doc);
}

static int cmd_list(const admin_opts *g, const char *cls, bool json)
{
    char path[200];
    json_t *r = NULL, *e;
    size_t i;
    snprintf(path, sizeof path, cls != NULL ? "/v1/admin/policies/%s/versions" : "/v1/admin/policies%s",
             cls != NULL ? cls : "");
    int rc = admin_call(g, "GET", path, NULL, &r);
    if (rc != 0 || json)
        return rc != 0 ? rc : print_json(r);
    if (cls == NULL)
        printf("%-24s %-8s %-8s %-20s %s\n", "CLASS", "VERSION", "VERSIONS", "APPLIED", "BY");
    else
        printf("%-8s %-20s %s\n", "VERSION", "APPLIED", "BY");
    json_array_foreach(json_object_get(r, cls != NULL ? "versions" : "policies"), i, e)
    {
        char t[32];
        jtime(e, "applied_at", t);
        if (cls == NULL)
            printf("%-24s %-8lld %-8lld %-20s %s\n", jstr(e, "class"),
                   (long long)json_integer_value(json_object_get(e, "version")),
                   (long long)json_integer_value(json_object_get(e, "versions")), t, jstr(e, "applied_by"));
        else
            printf("%-8lld %-20s %s\n", (long long)json_integer_value(json_object_get(e, "version")), t,
                   jstr(e, "applied_by"));
    }
    json_decref(r);
    return 0;
}

static int cmd_status(const admin_opts *g, const char *cls, bool json)
{
    char path[200];
    json_t *r = NULL, *d;
    size_t i;
    snprintf(path, sizeof path, "/v1/admin/policies/%s/devices", cls);
    int rc = admin_call(g, "GET", path, NULL, &r);
    if (rc != 0 || json)
        return rc != 0 ? rc : print_json(r);
    json_t *v = json_object_get(r, "version");
    printf("class %s: policy %s%lld, attestation every %lld s", cls, json_is_integer(v) ? "version " : "none",
           json_is_integer(v) ? (long long)json_integer_value(v) : 0LL,
           (long long)json_integer_value(json_object_get(r, "interval_s")));
    if (json_is_integer(json_object_get(r, "stale_after_s")))
        printf(", stale after %lld s", (long long)json_integer_value(json_object_get(r, "stale_after_s")));
    printf("\n%-32s %-12s %-20s %-6s %-6s %-20s %s\n", "DEVICE", "STATUS", "LAST ATTEST", "RESULT", "STALE",
           "STALE AT", "FAILED");
    json_array_foreach(json_object_get(r, "devices"), i, d)
    {
        char last[32], due[32], failed[64] = "no";
        jtime(d, "last_attest_at", last);
        jtime(d, "due_at", due);
        if (json_is_true(json_object_get(d, "failed")))
            snprintf(failed, sizeof failed, "yes (attestation %lld%s)",
                     (long long)json_integer_value(json_object_get(d, "failed_attestation_id")),
                     json_is_true(json_object_get(d, "failed_tamper")) ? ", tamper" : "");
        printf("%-32s %-12s %-20s %-6s %-6s %-20s %s\n", jstr(d, "device_id"), jstr(d, "status"), last,
               jstr(d, "last_result"), json_is_true(json_object_get(d, "stale")) ? "yes" : "no", due, failed);
    }
    json_decref(r);
    return 0;
}

static int cmd_actions(const admin_opts *g, const char *cls, const char *device, const char *limit, bool json)
{
    char path[300];
    json_t *r = NULL, *a;
    size_t i;
    snprintf(path, sizeof path, "/v1/admin/policies/%s/actions?limit=%s%s%s", cls,
             limit != NULL ? limit : "100", device != NULL ? "&device=" : "", device != NULL ? device : "");
    int rc = admin_call(g, "GET", path, NULL, &r);
    if (rc != 0 || json)
        return rc != 0 ? rc : print_json(r);
    printf("%-6s %-20s %-32s %-4s %-9s %-10s %-8s %-8s %s\n", "ID", "AT", "DEVICE", "VER", "CAUSE", "ACTION",
           "TARGET", "STATE", "RESULT");
    json_array_foreach(json_object_get(r, "actions"), i, a)
    {
        char t[32];
        jtime(a, "updated_at", t);
        printf("%-6lld %-20s %-32s %-4lld %-9s %-10s %-8s %-8s %s\n",
               (long long)json_integer_value(json_object_get(a, "id")), t, jstr(a, "device_id"),
               (long long)json_integer_value(json_object_get(a, "policy_version")), jstr(a, "cause"),
               jstr(a, "action"), jstr(a, "target")[0] ? jstr(a, "target") : "-", jstr(a, "state"),
               jstr(a, "result")[0] ? jstr(a, "result") : "-");
    }
    json_decref(r);
    return 0;
}

int drotctl_cmd_policy(const admin_opts *g, int argc, char **argv)
{
    if (argc < 2 || has_help(argc, argv)) {
        fputs(k_usage_policy, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    sub_opt o[] = {{"json", true, NULL, false},
                   {"version", false, NULL, false},
                   {"device", false, NULL, false},
                   {"limit", false, NULL, false}};
    const char *pos[2];
    size_t npos = 0;
    const char *sub = argv[1];
    int rc = sub_parse("policy", argc, argv, 2, o, 4, pos, 2, &npos);
    if (rc != 0)
        return rc;
    bool json = o[0].set;
    bool one = npos == 1;
    if ((o[1].set && strcmp(sub, "get") != 0) || ((o[2].set || o[3].set) && strcmp(sub, "actions") != 0))
        return usage_error("policy", "that option does not apply to 'policy %s'", sub);
    if (o[2].set && !valid_id(o[2].value))
        return usage_error("policy", "--device: '%s' is not 32 hex digits", o[2].value);
    if (strcmp(sub, "validate") == 0 || strcmp(sub, "plan") == 0 || strcmp(sub, "apply") == 0) {
        if (!one)
            return usage_error("policy", "'policy %s' takes one FILE", sub);
        if (sub[0] == 'v')
            return cmd_validate(pos[0], json);
        return cmd_plan(g, pos[0], sub[0] == 'a', json);
    }
    if (strcmp(sub, "list") == 0) {
        if (npos > 1 || (one && !ds_policy_class_ok(pos[0])))
            return usage_error("policy", "'policy list' takes at most one CLASS");
        return cmd_list(g, one ? pos[0] : NULL, json);
    }
    if (strcmp(sub, "get") == 0 || strcmp(sub, "status") == 0 || strcmp(sub, "actions") == 0) {
        if (!one || !ds_policy_class_ok(pos[0]))
            return usage_error("policy", "'policy %s' takes one CLASS (1..64 of [A-Za-z0-9._-])", sub);
        if (sub[0] == 'g')
            return cmd_get(g, pos[0], o[1].value, json);
        if (sub[0] == 's')
            return cmd_status(g, pos[0], json);
        return cmd_actions(g, pos[0], o[2].value, o[3].value, json);
    }
    return usage_error("policy",
                       "unknown subcommand '%s' (validate, plan, apply, get, list, status, actions)", sub);
}

/* ---- device clear ------------------------------------------------------------------------------- */

int drotctl_cmd_device(const admin_opts *g, int argc, char **argv)
{
    if (argc < 2 || has_help(argc, argv)) {
        fputs(k_usage_device, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "clear") != 0)
        return usage_error("device", "unknown subcommand '%s' (clear; see also 'drotctl devices')", argv[1]);
    sub_opt o[] = {{"json", true, NULL, false}, {"reason", false, NULL, false}};
    const char *pos[1];
    size_t npos = 0;
    int rc = sub_parse("device", argc, argv, 2, o, 2, pos, 1, &npos);
    if (rc != 0)
        return rc;
    if (npos != 1 || !valid_id(pos[0]))
        return usage_error("device", "'device clear' takes one device id (32 hex digits)");
    if (!o[1].set || o[1].value[0] == '\0')
        return usage_error("device", "--reason TEXT is required: it is recorded with the clear");
    char path[100];
    snprintf(path, sizeof path, "/v1/admin/devices/%s/clear", pos[0]);
    json_t *body = json_pack("{s:s}", "reason", o[1].value), *r = NULL;
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text == NULL) {
        errmsg("out of memory");
        return 1;
    }
    rc = admin_call(g, "POST", path, text, &r);
    free(text);
    if (rc != 0 || o[0].set)
        return rc != 0 ? rc : print_json(r);
    const json_t *c = json_object_get(r, "cleared");
    printf("device %s: no longer failed (cleared by %s: %s)\n", jstr(r, "device_id"), jstr(c, "by"),
           jstr(c, "reason"));
    json_decref(r);
    return 0;
}

/* ---- webhooks ----------------------------------------------------------------------------------- */

int drotctl_cmd_webhooks(const admin_opts *g, int argc, char **argv)
{
    if (argc < 2 || has_help(argc, argv)) {
        fputs(k_usage_webhooks, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "deliveries") != 0)
        return usage_error("webhooks", "unknown subcommand '%s' (deliveries)", argv[1]);
    sub_opt o[] = {{"json", true, NULL, false}, {"state", false, NULL, false}, {"limit", false, NULL, false}};
    const char *pos[1];
    size_t npos = 0;
    int rc = sub_parse("webhooks", argc, argv, 2, o, 3, pos, 0, &npos);
    if (rc != 0)
        return rc;
    if (o[1].set && strcmp(o[1].value, "pending") != 0 && strcmp(o[1].value, "delivered") != 0 &&
        strcmp(o[1].value, "failed") != 0)
        return usage_error("webhooks", "--state must be pending, delivered or failed");
    char path[200];
    snprintf(path, sizeof path, "/v1/admin/webhooks/deliveries?limit=%s%s%s", o[2].set ? o[2].value : "100",
             o[1].set ? "&state=" : "", o[1].set ? o[1].value : "");
    json_t *r = NULL, *d, *a;
    size_t i, k;
    rc = admin_call(g, "GET", path, NULL, &r);
    if (rc != 0 || o[0].set)
        return rc != 0 ? rc : print_json(r);
    printf("%-5s %-32s %-10s %-14s %-32s %-9s %-8s %s\n", "ID", "DELIVERY", "WEBHOOK", "EVENT", "DEVICE",
           "STATE", "ATTEMPTS", "LAST");
    json_array_foreach(json_object_get(r, "deliveries"), i, d)
    {
        char last[300] = "-";
        json_t *st = json_object_get(d, "last_status");
        if (jstr(d, "last_error")[0] != '\0')
            snprintf(last, sizeof last, "%s", jstr(d, "last_error"));
        else if (json_is_integer(st))
            snprintf(last, sizeof last, "HTTP %lld", (long long)json_integer_value(st));
        printf("%-5lld %-32s %-10s %-14s %-32s %-9s %3lld/%-4lld %s\n",
               (long long)json_integer_value(json_object_get(d, "id")), jstr(d, "delivery_id"),
               jstr(d, "webhook"), jstr(d, "event"), jstr(d, "device_id"), jstr(d, "state"),
               (long long)json_integer_value(json_object_get(d, "attempts")),
               (long long)json_integer_value(json_object_get(d, "max_attempts")), last);
        json_array_foreach(json_object_get(d, "attempt_log"), k, a)
        {
            char t[32], what[300];
            jtime(a, "at", t);
            json_t *hs = json_object_get(a, "http_status");
            if (json_is_integer(hs))
                snprintf(what, sizeof what, "HTTP %lld", (long long)json_integer_value(hs));
            else
                snprintf(what, sizeof what, "no answer: %s", jstr(a, "error"));
            printf("      attempt %lld at %s: %s (%lld ms)\n",
                   (long long)json_integer_value(json_object_get(a, "attempt")), t, what,
                   (long long)json_integer_value(json_object_get(a, "duration_ms")));
        }
    }
    json_decref(r);
    return 0;
}
