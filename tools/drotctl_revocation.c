/*
 * drotctl_revocation.c — revocations (docs/revocation.md; admin API,
 * docs/api.md "Revocations"):
 *
 *   drotctl [GLOBAL] revoke drk|cert|authority VALUE --reason TEXT [--json]
 *   drotctl [GLOBAL] revocations [list] [--kind drk|cert|authority] [--json]
 *   drotctl [GLOBAL] revocations show-list [--version N] [--out FILE] [--json]
 *   drotctl revocations show-list --file FILE [--anchor HEX] [--json]       (offline)
 *
 * show-list decodes a signed list — the server's (through the admin API) or
 * a file (what GET /v1/device/revocations serves) — checks its signature
 * against the key it names, and with --anchor that this key is that anchor;
 * --out saves the signed bytes for `drot-agent revocations set`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "drot/cose.h"
#include "drot/revocation.h"
#include "drot_crypto.h"
#include "drotctl.h"

static const char k_usage_revoke[] =
    "usage: drotctl [GLOBAL] revoke drk|cert|authority VALUE --reason TEXT [--json]\n"
    "\n"
    "Revokes, for good, and publishes the next signed revocation list at once (every device\n"
    "fetches it at its next attestation):\n"
    "  drk        a device root key: VALUE is a device id (32 hex digits: its current key), the\n"
    "             key's SHA-256 (64), its instance id (66) or the key (130). The device moves to\n"
    "             status revoked: the server refuses its attestations, its APM its tokens.\n"
    "  cert       a device TLS certificate: VALUE is its serial in hex ('openssl x509 -serial').\n"
    "             The server refuses the certificate on every device route; the device it was\n"
    "             issued to moves to status revoked.\n"
    "  authority  an authority key: VALUE is a key name of the server ('authority-2'), its\n"
    "             anchor hash (64 hex digits) or the key (130). Devices refuse everything it\n"
    "             signs, as if its anchor fuse were revoked; the server never signs with it.\n"
    "             Rotate the devices to another authority first (drotctl authority rotate).\n"
    "--reason is kept with the revocation. A revocation is never withdrawn. One list holds at\n"
    "most 16 authority keys, 64 device root keys and 32 certificates: beyond, the server\n"
    "refuses and nothing is revoked.\n";

static const char k_usage_revocations[] =
    "usage: drotctl [GLOBAL] revocations [list] [--kind drk|cert|authority] [--json]\n"
    "       drotctl [GLOBAL] revocations show-list [--version N] [--out FILE] [--json]\n"
    "       drotctl revocations show-list --file FILE [--anchor HEX] [--json]\n"
    "\n"
    "list       every revocation (kind, value, device, when, by whom, why, the first list\n"
    "           version that carries it) and the current list version\n"
    "show-list  decodes the current signed list (or --version N) from the server, or the\n"
    "           list in FILE offline (the bytes GET /v1/device/revocations serves), and checks\n"
    "           its signature; --anchor HEX (64 hex digits) also checks that the signer is that\n"
    "           anchor. --out FILE writes the signed list, for 'drot-agent revocations set'.\n"
    "           Exit status 1 when the list does not verify.\n";

static void hex_of(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
    out[2 * n] = '\0';
}

/* ---- revoke ----------------------------------------------------------------------------- */

int drotctl_cmd_revoke(const admin_opts *g, int argc, char **argv)
{
    sub_opt o[] = {{"reason", false, NULL, false}, {"json", true, NULL, false}};
    const char *pos[2];
    size_t np = 0;
    if (has_help(argc, argv)) {
        fputs(k_usage_revoke, stdout);
        return 0;
    }
    int rc = sub_parse("revoke", argc, argv, 1, o, 2, pos, 2, &np);
    if (rc != 0)
        return rc;
    if (np != 2)
        return usage_error("revoke", "give the kind (drk, cert or authority) and the VALUE");
    if (strcmp(pos[0], "drk") != 0 && strcmp(pos[0], "cert") != 0 && strcmp(pos[0], "authority") != 0)
        return usage_error("revoke", "unknown kind '%s': drk, cert or authority", pos[0]);
    if (!o[0].set || o[0].value[0] == '\0')
        return usage_error("revoke", "--reason TEXT is required: it is kept with the revocation");
    json_t *body = json_pack("{s:s, s:s, s:s}", "kind", pos[0], "value", pos[1], "reason", o[0].value);
    char *text = body == NULL ? NULL : json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (text == NULL) {
        errmsg("revoke: cannot build the request (is --reason valid UTF-8?)");
        return 1;
    }
    json_t *ans = NULL;
    rc = admin_call(g, "POST", "/v1/admin/revocations", text, &ans);
    free(text);
    if (rc != 0)
        return rc;
    if (o[1].set)
        return print_json(ans);
    json_t *r = json_object_get(ans, "revocation"), *l = json_object_get(ans, "list");
    json_t *d = json_object_get(ans, "device");
    printf("%s %s revoked; revocation list version %lld published, signed by %s (%lld entries)\n",
           jstr(r, "kind"), jstr(r, "value"), (long long)json_integer_value(json_object_get(l, "version")),
           jstr(l, "signer"), (long long)json_integer_value(json_object_get(l, "entries")));
    if (json_is_object(d))
        printf("device %s is now %s\n", jstr(d, "device_id"), jstr(d, "status"));
    json_decref(ans);
    return 0;
}

/* ---- revocations list ----------------------------------------------------------------------- */

static int cmd_list(const admin_opts *g, int argc, char **argv, int from)
{
    sub_opt o[] = {{"kind", false, NULL, false}, {"json", true, NULL, false}};
    const char *pos[1];
    size_t np = 0;
    int rc = sub_parse("revocations", argc, argv, from, o, 2, pos, 0, &np);
    if (rc != 0)
        return rc;
    char path[128] = "/v1/admin/revocations";
    if (o[0].set) {
        if (strcmp(o[0].value, "drk") != 0 && strcmp(o[0].value, "cert") != 0 &&
            strcmp(o[0].value, "authority") != 0)
            return usage_error("revocations", "--kind: drk, cert or authority");
        snprintf(path, sizeof path, "/v1/admin/revocations?kind=%s", o[0].value);
    }
    json_t *ans = NULL;
    if ((rc = admin_call(g, "GET", path, NULL, &ans)) != 0)
        return rc;
    if (o[1].set)
        return print_json(ans);
    json_t *arr = json_object_get(ans, "revocations");
    printf("revocation list version %lld, %zu revocation(s)\n",
           (long long)json_integer_value(json_object_get(ans, "version")), json_array_size(arr));
    if (json_array_size(arr) > 0)
        printf("%-5s %-9s %-64s %-32s %-20s %-4s %s\n", "ID", "KIND", "VALUE", "DEVICE", "REVOKED", "LIST",
               "BY: REASON");
    size_t i;
    json_t *r;
    json_array_foreach(arr, i, r)
    {
        char t[32];
        jtime(r, "revoked_at", t);
        printf("%-5lld %-9s %-64s %-32s %-20s %-4lld %s: %s\n",
               (long long)json_integer_value(json_object_get(r, "id")), jstr(r, "kind"), jstr(r, "value"),
               jstr(r, "device_id"), t, (long long)json_integer_value(json_object_get(r, "list_version")),
               jstr(r, "revoked_by"), jstr(r, "reason"));
    }
    json_decref(ans);
    return 0;
}

/* ---- revocations show-list -------------------------------------------------------------------- */

static json_t *hashes_json(const uint8_t *const *h, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        char x[65];
        hex_of(h[i], 32, x);
        json_array_append_new(a, json_string(x));
    }
    return a;
}

/* Writes the signed list to path (refusing to replace a file). 0 or 1. */
static int write_out(const char *path, const uint8_t *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        errmsg("--out %s: %s%s", path, strerror(errno), errno == EEXIST ? " (it is not replaced)" : "");
        return 1;
    }
    ssize_t w = write(fd, p, n);
    int e = errno;
    if (close(fd) != 0 || w != (ssize_t)n) {
        errmsg("--out %s: %s", path, strerror(w < 0 ? e : EIO));
        unlink(path);
        return 1;
    }
    return 0;
}

/* Decodes and checks msg; prints it. 0, or 1 when it does not verify. */
static int show(const uint8_t *msg, size_t len, const char *anchor_hex, bool json)
{
    static drot_revocation_list l;
    drot_cose_sign1_view v;
    drot_anchor_slot slot;
    uint8_t digest[32];
    char signer[65], dg[65];
    memset(&slot, 0, sizeof slot);
    drot_status ds = drot_cose_sign1_decode(msg, len, &v);
    if (ds == DROT_OK && (v.kid == NULL || v.kid_len != DROT_P256_PUB_LEN))
        ds = DROT_E_MALFORMED;
    if (ds == DROT_OK)
        ds = drot_sha256(v.kid, v.kid_len, slot.hash);
    if (ds != DROT_OK) {
        errmsg("show-list: not a signed revocation list: %s", drot_status_str(ds));
        return 1;
    }
    hex_of(slot.hash, 32, signer);
    if (anchor_hex != NULL) {
        uint8_t want[32];
        size_t n = 0;
        if (unhex_str(anchor_hex, want, sizeof want, &n) != 0 || n != 32)
            return usage_error("revocations", "--anchor: 64 hex digits");
        if (memcmp(want, slot.hash, 32) != 0) {
            errmsg("show-list: the list is signed by the key with anchor hash %s, not %s", signer,
                   anchor_hex);
            return 1;
        }
    }
    slot.present = true;
    ds = drot_revocation_verify(msg, len, &slot, 1, &l, NULL, digest);
    if (ds != DROT_OK) {
        errmsg("show-list: the list does not verify under the key it names (anchor hash %s): %s", signer,
               drot_status_str(ds));
        return 1;
    }
    hex_of(digest, 32, dg);
    if (json) {
        json_t *certs = json_array();
        for (size_t i = 0; i < l.n_certs; i++) {
            char x[41];
            hex_of(l.certs[i].p, l.certs[i].len, x);
            json_array_append_new(certs, json_string(x));
        }
        return print_json(json_pack("{s:I, s:I, s:s, s:s, s:I, s:o, s:o, s:o}", "version",
                                    (json_int_t)l.version, "issued_at", (json_int_t)l.issued_at,
                                    "signer_anchor", signer, "digest", dg, "signed_len", (json_int_t)len,
                                    "authorities", hashes_json(l.authorities, l.n_authorities), "drks",
                                    hashes_json(l.drks, l.n_drks), "certs", certs));
    }
    char t[32];
    iso_time((int64_t)l.issued_at, t);
    printf("revocation list version %llu, issued %s, %zu bytes\n", (unsigned long long)l.version, t, len);
    printf("signed by the authority key with anchor hash %s (signature verifies%s)\n", signer,
           anchor_hex != NULL ? ", the anchor asked for" : "");
    printf("content digest %s\n", dg);
    printf("authority keys revoked (%zu):\n", l.n_authorities);
    for (size_t i = 0; i < l.n_authorities; i++) {
        char x[65];
        hex_of(l.authorities[i], 32, x);
        printf("  %s\n", x);
    }
    printf("device root keys revoked (%zu):\n", l.n_drks);
    for (size_t i = 0; i < l.n_drks; i++) {
        char x[65];
        hex_of(l.drks[i], 32, x);
        printf("  %s\n", x);
    }
    printf("certificates revoked (%zu):\n", l.n_certs);
    for (size_t i = 0; i < l.n_certs; i++) {
        char x[41];
        hex_of(l.certs[i].p, l.certs[i].len, x);
        printf("  %s\n", x);
    }
    return 0;
}

static int cmd_show_list(const admin_opts *g, int argc, char **argv, int from)
{
    sub_opt o[] = {{"version", false, NULL, false},
                   {"out", false, NULL, false},
                   {"file", false, NULL, false},
                   {"anchor", false, NULL, false},
                   {"json", true, NULL, false}};
    enum { O_VERSION, O_OUT, O_FILE, O_ANCHOR, O_JSON };
    const char *pos[1];
    size_t np = 0;
    int rc = sub_parse("revocations", argc, argv, from, o, 5, pos, 0, &np);
    if (rc != 0)
        return rc;
    if (o[O_FILE].set && (o[O_VERSION].set || o[O_OUT].set))
        return usage_error("revocations",
                           "--file reads a list offline: --version and --out are for the server's");
    uint8_t *msg = NULL;
    size_t len = 0;
    if (o[O_FILE].set) {
        char *buf = slurp(o[O_FILE].value, DROT_REVOCATION_SIGNED_MAX, &len);
        if (buf == NULL)
            return 1;
        msg = (uint8_t *)buf;
    } else {
        char path[128] = "/v1/admin/revocations/list";
        if (o[O_VERSION].set) {
            char *end = NULL;
            long long v = strtoll(o[O_VERSION].value, &end, 10);
            if (end == o[O_VERSION].value || *end != '\0' || v < 1 || v > 0x7FFFFFFFLL)
                return usage_error("revocations", "--version: a list version, 1 or more");
            snprintf(path, sizeof path, "/v1/admin/revocations/list?version=%lld", v);
        }
        json_t *ans = NULL;
        if ((rc = admin_call(g, "GET", path, NULL, &ans)) != 0)
            return rc;
        const char *hex = json_string_value(json_object_get(ans, "signed"));
        msg = malloc(DROT_REVOCATION_SIGNED_MAX);
        if (msg == NULL || hex == NULL || unhex_str(hex, msg, DROT_REVOCATION_SIGNED_MAX, &len) != 0) {
            errmsg("show-list: the server's answer holds no signed list");
            json_decref(ans);
            free(msg);
            return 1;
        }
        json_decref(ans);
    }
    rc = show(msg, len, o[O_ANCHOR].value, o[O_JSON].set);
    if (rc == 0 && o[O_OUT].set)
        rc = write_out(o[O_OUT].value, msg, len);
    free(msg);
    return rc;
}

int drotctl_cmd_revocations(const admin_opts *g, int argc, char **argv)
{
    if (has_help(argc, argv)) {
        fputs(k_usage_revocations, stdout);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "show-list") == 0)
        return cmd_show_list(g, argc, argv, 2);
    if (argc >= 2 && strcmp(argv[1], "list") == 0)
        return cmd_list(g, argc, argv, 2);
    if (argc >= 2 && strncmp(argv[1], "--", 2) != 0)
        return usage_error("revocations", "unknown subcommand '%s': list or show-list", argv[1]);
    return cmd_list(g, argc, argv, 1);
}
