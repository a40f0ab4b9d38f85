/*
 * drotctl_rotate.c — the DRoT rotation commands of drotctl (admin API,
 * docs/api.md "Rotations", docs/drot.md):
 *
 *   drotctl [GLOBAL] rotate DEVICE [--mode server|device] [--max-attempts N] [--json]
 *   drotctl [GLOBAL] rotate --class C --max-parallel N [--fail-threshold M]
 *                           [--mode server|device] [--max-attempts N] [--json]
 *   drotctl [GLOBAL] rotations [list] [--device ID] [--state S] [--campaign N] [--json]
 *   drotctl [GLOBAL] rotations show ID [--json]
 *   drotctl [GLOBAL] rotations cancel ID --reason TEXT
 *   drotctl [GLOBAL] authority rotate --dir KEYS [--class C | --device ID] [--key NAME] [--json]
 *   drotctl [GLOBAL] campaign list [--class C] [--state S] [--json]
 *   drotctl [GLOBAL] campaign show ID [--json]
 *   drotctl [GLOBAL] campaign stop|resume|cancel|close ID --reason TEXT
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "drot_crypto.h"
#include "drotctl.h"
#include "keys.h"

static const char k_usage_rotate[] =
    "usage: drotctl [GLOBAL] rotate DEVICE [--mode server|device] [--max-attempts N] [--json]\n"
    "       drotctl [GLOBAL] rotate --class C --max-parallel N [--fail-threshold M]\n"
    "                               [--mode server|device] [--max-attempts N] [--json]\n"
    "\n"
    "Asks for a rotation of the device root key (DRoT, docs/drot.md): a job the device\n"
    "carries out at its next attestation, after a fresh PASS. --mode server (default): the\n"
    "server generates the new key and seals it to the device's current key; --mode device:\n"
    "the APM generates it and the authority endorses it. A failed attempt is retried with\n"
    "a new nonce up to --max-attempts times (default 3).\n"
    "With --class, a campaign: one job per active device of the class, at most\n"
    "--max-parallel in flight, stopped once --fail-threshold jobs (default 1) have failed.\n"
    "Follow it with 'drotctl rotations --campaign N' or 'drotctl campaign show N'.\n";

static const char k_usage_rotations[] =
    "usage: drotctl [GLOBAL] rotations [list] [--device ID] [--state S] [--campaign N] [--json]\n"
    "       drotctl [GLOBAL] rotations show ID [--json]\n"
    "       drotctl [GLOBAL] rotations cancel ID --reason TEXT\n"
    "\n"
    "Rotation jobs and their state: pending (waiting for the device), issued (instruction\n"
    "sent, waiting for its receipt), completed, failed, cancelled.\n";

static const char k_usage_campaign[] =
    "usage: drotctl [GLOBAL] campaign list [--class C] [--state S] [--json]\n"
    "       drotctl [GLOBAL] campaign show ID [--json]\n"
    "       drotctl [GLOBAL] campaign stop|resume|cancel|close ID --reason TEXT [--json]\n"
    "\n"
    "Rotation campaigns: their settings, state (running, stopped, done, cancelled) and jobs by\n"
    "state. stop holds back the jobs not yet issued (issued ones finish); resume runs it again;\n"
    "cancel cancels its pending jobs; close marks a campaign with no open job done.\n";

static bool positive(const char *s)
{
    if (s == NULL || *s == '\0' || strlen(s) > 9)
        return false;
    for (const char *p = s; *p != '\0'; p++)
        if (*p < '0' || *p > '9')
            return false;
    return atol(s) > 0;
}

static void print_job_row(const json_t *j)
{
    char t[32], camp[24] = "-";
    jtime(j, "updated_at", t);
    json_t *c = json_object_get(j, "campaign_id");
    if (json_is_integer(c))
        snprintf(camp, sizeof camp, "%lld", (long long)json_integer_value(c));
    const char *what = strcmp(jstr(j, "kind"), "rotate-anchor") == 0 ? "anchor"
                       : strcmp(jstr(j, "mode"), "device") == 0      ? "key/device"
                                                                     : "key/server";
    printf("%-6lld %-32s %-10s %-9s %3lld/%-3lld %-5lld %-8s %-20s %s\n",
           (long long)json_integer_value(json_object_get(j, "id")), jstr(j, "device_id"), what,
           jstr(j, "state"), (long long)json_integer_value(json_object_get(j, "attempts")),
           (long long)json_integer_value(json_object_get(j, "max_attempts")),
           (long long)json_integer_value(json_object_get(j, "from_epoch")), camp, t,
           jstr(j, "error")[0] ? jstr(j, "error") : "-");
}

static void print_job(const json_t *j)
{
    char t[32];
    printf("job          %lld\ndevice       %s\nkind         %s\nmode         %s\nstate        %s\n",
           (long long)json_integer_value(json_object_get(j, "id")), jstr(j, "device_id"), jstr(j, "kind"),
           jstr(j, "mode"), jstr(j, "state"));
    printf("attempts     %lld of %lld\nfrom epoch   %lld\n",
           (long long)json_integer_value(json_object_get(j, "attempts")),
           (long long)json_integer_value(json_object_get(j, "max_attempts")),
           (long long)json_integer_value(json_object_get(j, "from_epoch")));
    printf("new key      %s\nnew instance %s\n", jstr(j, "new_drk_pub"), jstr(j, "new_instance_id"));
    jtime(j, "created_at", t);
    printf("created      %s\n", t);
    jtime(j, "updated_at", t);
    printf("updated      %s\n", t);
    if (jstr(j, "error")[0] != '\0' && strcmp(jstr(j, "error"), "-") != 0)
        printf("last error   %s\n", jstr(j, "error"));
}

static void print_campaign(const json_t *c)
{
    char t[32];
    const json_t *jobs = json_object_get(c, "jobs");
    printf("campaign     %lld\nclass        %s\nmode         %s\nstate        %s",
           (long long)json_integer_value(json_object_get(c, "id")), jstr(c, "class"), jstr(c, "mode"),
           jstr(c, "state"));
    if (jstr(c, "stop_reason")[0] != '\0' && strcmp(jstr(c, "stop_reason"), "-") != 0)
        printf(" (%s)", jstr(c, "stop_reason"));
    printf("\nmax parallel %lld\nstop after   %lld failure(s)\n",
           (long long)json_integer_value(json_object_get(c, "max_parallel")),
           (long long)json_integer_value(json_object_get(c, "fail_threshold")));
    printf("jobs         %lld pending, %lld issued, %lld completed, %lld failed, %lld cancelled\n",
           (long long)json_integer_value(json_object_get(jobs, "pending")),
           (long long)json_integer_value(json_object_get(jobs, "issued")),
           (long long)json_integer_value(json_object_get(jobs, "completed")),
           (long long)json_integer_value(json_object_get(jobs, "failed")),
           (long long)json_integer_value(json_object_get(jobs, "cancelled")));
    jtime(c, "created_at", t);
    printf("created      %s\n", t);
}

/* The mode option as JSON, or NULL after a usage error. */
static json_t *mode_json(const char *cmd, const char *mode)
{
    if (mode == NULL || strcmp(mode, "server") == 0 || strcmp(mode, "device") == 0)
        return json_string(mode != NULL ? mode : "server");
    usage_error(cmd, "--mode must be server or device, not '%s'", mode);
    return NULL;
}

int drotctl_cmd_rotate(const admin_opts *g, int argc, char **argv)
{
    if (has_help(argc, argv)) {
        fputs(k_usage_rotate, stdout);
        return 0;
    }
    sub_opt o[] = {{"mode", false, NULL, false},           {"max-attempts", false, NULL, false},
                   {"class", false, NULL, false},          {"max-parallel", false, NULL, false},
                   {"fail-threshold", false, NULL, false}, {"json", true, NULL, false}};
    enum { O_MODE, O_ATTEMPTS, O_CLASS, O_PAR, O_THR, O_JSON };
    const char *pos[1];
    size_t np = 0;
    int rc = sub_parse("rotate ", argc, argv, 1, o, sizeof o / sizeof o[0], pos, 1, &np);
    if (rc != 0)
        return rc;
    if ((np == 1) == o[O_CLASS].set)
        return usage_error("rotate ", "%s", "give either DEVICE or --class C (see --help)");
    if (o[O_ATTEMPTS].set && !positive(o[O_ATTEMPTS].value))
        return usage_error("rotate ", "--max-attempts must be a positive number, not '%s'",
                           o[O_ATTEMPTS].value);
    json_t *mode = mode_json("rotate ", o[O_MODE].value);
    if (mode == NULL)
        return EXIT_USAGE;
    json_t *body = json_object(), *j = NULL;
    json_object_set_new(body, "mode", mode);
    if (o[O_ATTEMPTS].set)
        json_object_set_new(body, "max_attempts", json_integer(atol(o[O_ATTEMPTS].value)));
    const char *path;
    if (np == 1) {
        if (!valid_id(pos[0]) || o[O_PAR].set || o[O_THR].set) {
            json_decref(body);
            return usage_error("rotate ", "%s",
                               "rotate DEVICE needs a device id (32 hex digits) and takes no "
                               "campaign options");
        }
        json_object_set_new(body, "device_id", json_string(pos[0]));
        path = "/v1/admin/rotations";
    } else {
        if (!positive(o[O_PAR].value) || (o[O_THR].set && !positive(o[O_THR].value))) {
            json_decref(body);
            return usage_error("rotate ", "%s",
                               "a campaign needs --max-parallel N (and --fail-threshold M) "
                               "as positive numbers");
        }
        json_object_set_new(body, "class", json_string(o[O_CLASS].value));
        json_object_set_new(body, "max_parallel", json_integer(atol(o[O_PAR].value)));
        if (o[O_THR].set)
            json_object_set_new(body, "fail_threshold", json_integer(atol(o[O_THR].value)));
        path = "/v1/admin/campaigns";
    }
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (text == NULL)
        return 1;
    rc = admin_call(g, "POST", path, text, &j);
    free(text);
    if (rc != 0)
        return rc;
    if (o[O_JSON].set)
        return print_json(j);
    if (np == 1) {
        printf("rotation job %lld for %s (%s mode): %s; the device carries it out at its next attestation\n",
               (long long)json_integer_value(json_object_get(j, "id")), jstr(j, "device_id"), jstr(j, "mode"),
               jstr(j, "state"));
    } else {
        print_campaign(json_object_get(j, "campaign"));
        printf("created %lld job(s)\n", (long long)json_integer_value(json_object_get(j, "jobs_created")));
    }
    json_decref(j);
    return 0;
}

int drotctl_cmd_rotations(const admin_opts *g, int argc, char **argv)
{
    if (has_help(argc, argv)) {
        fputs(k_usage_rotations, stdout);
        return 0;
    }
    sub_opt o[] = {{"device", false, NULL, false},   {"state", false, NULL, false},
                   {"campaign", false, NULL, false}, {"json", true, NULL, false},
                   {"reason", false, NULL, false},   {"limit", false, NULL, false}};
    enum { O_DEVICE, O_STATE, O_CAMPAIGN, O_JSON, O_REASON, O_LIMIT };
    const char *pos[2];
    size_t np = 0;
    int rc = sub_parse("rotations ", argc, argv, 1, o, sizeof o / sizeof o[0], pos, 2, &np);
    if (rc != 0)
        return rc;
    const char *sub = np > 0 ? pos[0] : "list";
    char path[512];
    json_t *j = NULL;
    if (strcmp(sub, "list") == 0) {
        if (np > 1)
            return usage_error("rotations ", "unexpected argument '%s'", pos[1]);
        if (o[O_DEVICE].set && !valid_id(o[O_DEVICE].value))
            return usage_error("rotations ", "--device needs a device id (32 hex digits), not '%s'",
                               o[O_DEVICE].value);
        if ((o[O_CAMPAIGN].set && !positive(o[O_CAMPAIGN].value)) ||
            (o[O_LIMIT].set && !positive(o[O_LIMIT].value)))
            return usage_error("rotations ", "%s", "--campaign and --limit take positive numbers");
        char *su = o[O_STATE].value ? curl_easy_escape(NULL, o[O_STATE].value, 0) : NULL;
        snprintf(path, sizeof path, "/v1/admin/rotations?limit=%s%s%s%s%s%s%s",
                 o[O_LIMIT].value ? o[O_LIMIT].value : "10000", o[O_DEVICE].set ? "&device=" : "",
                 o[O_DEVICE].set ? o[O_DEVICE].value : "", o[O_STATE].set ? "&state=" : "", su ? su : "",
                 o[O_CAMPAIGN].set ? "&campaign=" : "", o[O_CAMPAIGN].set ? o[O_CAMPAIGN].value : "");
        curl_free(su);
        rc = admin_call(g, "GET", path, NULL, &j);
        if (rc != 0 || o[O_JSON].set)
            return rc != 0 ? rc : print_json(j);
        printf("%-6s %-32s %-10s %-9s %-7s %-5s %-8s %-20s %s\n", "JOB", "DEVICE", "ROTATES", "STATE",
               "TRIES", "FROM", "CAMPAIGN", "UPDATED", "LAST ERROR");
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(j, "rotations"), i, r) print_job_row(r);
        json_decref(j);
        return 0;
    }
    if (np != 2 || !positive(pos[1]))
        return usage_error("rotations ", "%s needs a job ID (a positive number)", sub);
    if (strcmp(sub, "show") == 0) {
        snprintf(path, sizeof path, "/v1/admin/rotations/%s", pos[1]);
        rc = admin_call(g, "GET", path, NULL, &j);
        if (rc != 0 || o[O_JSON].set)
            return rc != 0 ? rc : print_json(j);
        print_job(j);
        json_decref(j);
        return 0;
    }
    if (strcmp(sub, "cancel") == 0) {
        if (o[O_REASON].value == NULL || o[O_REASON].value[0] == '\0')
            return usage_error("rotations ", "%s", "cancel needs --reason TEXT");
        json_t *b = json_pack("{s:s}", "reason", o[O_REASON].value);
        char *text = b != NULL ? json_dumps(b, JSON_COMPACT) : NULL;
        json_decref(b);
        if (text == NULL)
            return 1;
        snprintf(path, sizeof path, "/v1/admin/rotations/%s/cancel", pos[1]);
        rc = admin_call(g, "POST", path, text, &j);
        free(text);
        if (rc != 0 || o[O_JSON].set)
            return rc != 0 ? rc : print_json(j);
        printf("rotation job %s: %s\n", pos[1], jstr(j, "state"));
        json_decref(j);
        return 0;
    }
    return usage_error("rotations ", "unknown subcommand '%s' (list, show, cancel)", sub);
}

static void print_campaign_row(const json_t *c)
{
    char t[32];
    const json_t *jobs = json_object_get(c, "jobs");
    jtime(c, "updated_at", t);
    printf("%-6lld %-20s %-6s %-9s %3lld %4lld/%-4lld %4lld %4lld %-20s %s\n",
           (long long)json_integer_value(json_object_get(c, "id")), jstr(c, "class"), jstr(c, "mode"),
           jstr(c, "state"), (long long)json_integer_value(json_object_get(c, "max_parallel")),
           (long long)json_integer_value(json_object_get(jobs, "completed")),
           (long long)(json_integer_value(json_object_get(jobs, "pending")) +
                       json_integer_value(json_object_get(jobs, "issued")) +
                       json_integer_value(json_object_get(jobs, "completed")) +
                       json_integer_value(json_object_get(jobs, "failed")) +
                       json_integer_value(json_object_get(jobs, "cancelled"))),
           (long long)json_integer_value(json_object_get(jobs, "issued")),
           (long long)json_integer_value(json_object_get(jobs, "failed")), t,
           jstr(c, "stop_reason")[0] ? jstr(c, "stop_reason") : "-");
}

int drotctl_cmd_campaign(const admin_opts *g, int argc, char **argv)
{
    if (has_help(argc, argv)) {
        fputs(k_usage_campaign, stdout);
        return 0;
    }
    sub_opt o[] = {{"json", true, NULL, false},
                   {"class", false, NULL, false},
                   {"state", false, NULL, false},
                   {"reason", false, NULL, false}};
    enum { O_JSON, O_CLASS, O_STATE, O_REASON };
    const char *pos[2];
    size_t np = 0;
    int rc = sub_parse("campaign ", argc, argv, 1, o, sizeof o / sizeof o[0], pos, 2, &np);
    if (rc != 0)
        return rc;
    char path[512];
    json_t *j = NULL;
    if (np >= 1 && strcmp(pos[0], "list") == 0) {
        if (np != 1)
            return usage_error("campaign ", "unexpected argument '%s'", pos[1]);
        char *cu = o[O_CLASS].value ? curl_easy_escape(NULL, o[O_CLASS].value, 0) : NULL;
        char *su = o[O_STATE].value ? curl_easy_escape(NULL, o[O_STATE].value, 0) : NULL;
        snprintf(path, sizeof path, "/v1/admin/campaigns%s%s%s%s%s", cu || su ? "?" : "", cu ? "class=" : "",
                 cu ? cu : "", su ? (cu ? "&state=" : "state=") : "", su ? su : "");
        curl_free(cu);
        curl_free(su);
        rc = admin_call(g, "GET", path, NULL, &j);
        if (rc != 0 || o[O_JSON].set)
            return rc != 0 ? rc : print_json(j);
        printf("%-6s %-20s %-6s %-9s %3s %9s %4s %4s %-20s %s\n", "ID", "CLASS", "MODE", "STATE", "PAR",
               "DONE/ALL", "OUT", "FAIL", "UPDATED", "STOP REASON");
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(j, "campaigns"), i, c) print_campaign_row(c);
        json_decref(j);
        return 0;
    }
    if (np != 2 || !positive(pos[1]))
        return usage_error("campaign ", "%s", "usage: campaign list | show ID | stop|resume|cancel|close ID");
    if (strcmp(pos[0], "show") == 0) {
        snprintf(path, sizeof path, "/v1/admin/campaigns/%s", pos[1]);
        rc = admin_call(g, "GET", path, NULL, &j);
        if (rc != 0 || o[O_JSON].set)
            return rc != 0 ? rc : print_json(j);
        print_campaign(j);
        json_decref(j);
        return 0;
    }
    static const char *const verbs[][2] = {
        {"stop", "stopped"}, {"resume", "running"}, {"cancel", "cancelled"}, {"close", "done"}};
    for (size_t v = 0; v < sizeof verbs / sizeof verbs[0]; v++) {
        if (strcmp(pos[0], verbs[v][0]) != 0)
            continue;
        if (o[O_REASON].value == NULL || o[O_REASON].value[0] == '\0')
            return usage_error("campaign ", "%s needs --reason TEXT", pos[0]);
        json_t *b = json_pack("{s:s, s:s}", "state", verbs[v][1], "reason", o[O_REASON].value);
        char *text = b != NULL ? json_dumps(b, JSON_COMPACT) : NULL;
        json_decref(b);
        if (text == NULL)
            return 1;
        snprintf(path, sizeof path, "/v1/admin/campaigns/%s/state", pos[1]);
        rc = admin_call(g, "POST", path, text, &j);
        free(text);
        if (rc != 0 || o[O_JSON].set)
            return rc != 0 ? rc : print_json(j);
        printf("campaign %s: %s\n", pos[1], jstr(j, "state"));
        json_decref(j);
        return 0;
    }
    return usage_error("campaign ", "unknown subcommand '%s' (list, show, stop, resume, cancel, close)",
                       pos[0]);
}

static const char k_usage_authority[] =
    "usage: drotctl [GLOBAL] authority rotate --dir KEYS [--class C | --device ID] [--key NAME]\n"
    "                                         [--max-attempts N] [--json]\n"
    "\n"
    "Trust-anchor rotation (DESIGN.md 7.2, docs/drot.md): creates the next authority key in the\n"
    "server's key directory KEYS (\"authority-2\", ...; the passphrase from --passphrase-file or\n"
    "DROT_KEY_PASSPHRASE), then asks the server for one rotation job per active device (of class\n"
    "C). Each device, at its next attestation, confirms its current anchor, adds the new key\n"
    "(signed by the current one and by the new key itself), confirms the new key and revokes the\n"
    "old one. From then on the server signs that device's instructions with the new key.\n"
    "--device ID rotates one device only; --key NAME uses an authority key that already exists\n"
    "(made by an earlier 'authority rotate') instead of creating one.\n"
    "Follow it with 'drotctl rotations --state pending'.\n";

int drotctl_cmd_authority(const admin_opts *g, int argc, char **argv)
{
    if (has_help(argc, argv)) {
        fputs(k_usage_authority, stdout);
        return 0;
    }
    sub_opt o[] = {{"dir", false, NULL, false},          {"class", false, NULL, false},
                   {"max-attempts", false, NULL, false}, {"json", true, NULL, false},
                   {"device", false, NULL, false},       {"key", false, NULL, false}};
    enum { O_DIR, O_CLASS, O_ATTEMPTS, O_JSON, O_DEVICE, O_KEY };
    const char *pos[1];
    size_t np = 0;
    int rc = sub_parse("authority ", argc, argv, 1, o, sizeof o / sizeof o[0], pos, 1, &np);
    if (rc != 0)
        return rc;
    if (np != 1 || strcmp(pos[0], "rotate") != 0 || o[O_DIR].value == NULL)
        return usage_error("authority ", "%s", "usage: authority rotate --dir KEYS (see --help)");
    if (o[O_ATTEMPTS].set && !positive(o[O_ATTEMPTS].value))
        return usage_error("authority ", "--max-attempts must be a positive number, not '%s'",
                           o[O_ATTEMPTS].value);
    if (o[O_DEVICE].set && (o[O_CLASS].set || !valid_id(o[O_DEVICE].value)))
        return usage_error("authority ", "%s", "--device needs a device id (32 hex digits), and not --class");
    if (g->server == NULL || g->cert == NULL || g->key == NULL || g->ca == NULL)
        return usage_error("authority ", "%s",
                           "needs --server URL --cert FILE --key FILE --ca FILE (before the command)");
    /* 1. The new key, in the server's key directory. */
    char pass[DS_KEYS_PASSPHRASE_MAX + 1], err[512] = "";
    ds_keystore *ks = NULL;
    ds_key_info info;
    drot_p256_pub pub;
    uint8_t raw[DROT_P256_PUB_LEN], anchor[DROT_SHA256_LEN];
    ds_keys_status kst = ds_keys_passphrase(g->pass_file, pass, sizeof pass);
    if (kst == DS_KEYS_OK)
        kst = ds_keystore_open_file(o[O_DIR].value, pass, &ks, err, sizeof err);
    ds_keys_wipe(pass, sizeof pass);
    if (kst == DS_KEYS_OK && o[O_KEY].set)
        kst = ds_keys_info(ks, o[O_KEY].value, &info);
    else if (kst == DS_KEYS_OK)
        kst = ds_keys_generate(ks, DS_ROLE_AUTHORITY, &info);
    if (kst == DS_KEYS_OK && info.role != DS_ROLE_AUTHORITY)
        kst = DS_KEYS_E_ARG;
    if (kst == DS_KEYS_OK)
        kst = ds_keys_p256_public(ks, info.name, &pub, raw);
    if (kst != DS_KEYS_OK) {
        errmsg("--dir %s: %s%s%s", o[O_DIR].value, ds_keys_status_str(kst), err[0] ? ": " : "",
               err[0] ? err : (ks != NULL ? ds_keystore_error(ks) : ""));
        ds_keystore_close(ks);
        return 1;
    }
    ds_keystore_close(ks);
    drot_sha256(raw, sizeof raw, anchor);
    char anchor_hex[2 * DROT_SHA256_LEN + 1];
    for (size_t i = 0; i < sizeof anchor; i++)
        snprintf(anchor_hex + 2 * i, 3, "%02x", anchor[i]);
    /* 2. The jobs. */
    json_t *body = json_pack("{s:s}", "new_authority", info.name), *j = NULL;
    if (o[O_CLASS].set)
        json_object_set_new(body, "class", json_string(o[O_CLASS].value));
    if (o[O_DEVICE].set)
        json_object_set_new(body, "device_id", json_string(o[O_DEVICE].value));
    if (o[O_ATTEMPTS].set)
        json_object_set_new(body, "max_attempts", json_integer(atol(o[O_ATTEMPTS].value)));
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (text == NULL)
        return 1;
    rc = admin_call(g, "POST", "/v1/admin/anchor-rotations", text, &j);
    free(text);
    if (rc != 0) {
        if (!o[O_KEY].set)
            errmsg("the new key %s was created in %s: give it with --key %s when you try again", info.name,
                   o[O_DIR].value, info.name);
        return rc;
    }
    json_object_set_new(j, "anchor", json_string(anchor_hex));
    if (o[O_JSON].set)
        return print_json(j);
    printf("new authority key %s, anchor %s\n", info.name, anchor_hex);
    printf("%lld trust-anchor rotation job(s) created, %zu device(s) skipped; each runs at the device's next "
           "attestation\n",
           (long long)json_integer_value(json_object_get(j, "jobs_created")),
           json_array_size(json_object_get(j, "skipped")));
    json_decref(j);
    return 0;
}
