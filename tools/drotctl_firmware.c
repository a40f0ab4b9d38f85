/*
 * drotctl_firmware.c — firmware manifests (DESIGN.md §7.3, drot/manifest.h):
 *
 *   drotctl firmware sign --dir KEYS [--key NAME] --component C --version V --svn N
 *                         --out MANIFEST IMAGE [--json]
 *   drotctl firmware inspect MANIFEST [--anchor HEX] [--image IMAGE] [--json]
 *
 * sign: the manifest (component, version, SVN, SHA-256 and size of IMAGE) as
 * an authority object signed through key custody by the authority key NAME
 * (default "authority"), written atomically to MANIFEST.
 * inspect: decodes a manifest offline; with --anchor it checks the signature
 * the way a device does (drot_manifest_verify against that anchor), with
 * --image it checks the image's digest and size. Exit 1 on any mismatch.
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
#include "drot/manifest.h"
#include "drot_crypto.h"
#include "drotctl.h"
#include "keys.h"

static const char k_usage_firmware[] =
    "usage: drotctl firmware sign --dir KEYS [--key NAME] --component C --version V --svn N\n"
    "                             --out MANIFEST IMAGE [--json]\n"
    "       drotctl firmware inspect MANIFEST [--anchor HEX] [--image IMAGE] [--json]\n"
    "\n"
    "sign     writes the manifest of IMAGE (component, version, SVN, SHA-256, size), signed by the\n"
    "         authority key NAME of the key directory KEYS (default: authority; the passphrase\n"
    "         from --passphrase-file or DROT_KEY_PASSPHRASE). C is the measured component's type\n"
    "         (APM, HOST-BL, HOST-OS; 1..16 printable characters), V 1..32 printable characters,\n"
    "         N 0..63. MANIFEST must not exist.\n"
    "inspect  decodes a manifest and prints it. --anchor HEX (64 hex digits, as 'drotctl init'\n"
    "         prints it) checks the signature as a device does; --image checks the image's\n"
    "         digest and size. Exit status 1 when a check fails.\n";

static void hex_of(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

static bool printable(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

static json_t *manifest_json(const drot_manifest *m)
{
    char digest[2 * DROT_SHA256_LEN + 1];
    hex_of(m->digest, sizeof m->digest, digest);
    return json_pack("{s:s%, s:s%, s:I, s:s, s:I}", "component", m->component, m->component_len, "version",
                     m->version, m->version_len, "svn", (json_int_t)m->svn, "sha256", digest, "size",
                     (json_int_t)m->size);
}

static int cmd_sign(const admin_opts *g, int argc, char **argv)
{
    sub_opt o[] = {{"dir", false, NULL, false},       {"key", false, NULL, false},
                   {"component", false, NULL, false}, {"version", false, NULL, false},
                   {"svn", false, NULL, false},       {"out", false, NULL, false},
                   {"json", true, NULL, false}};
    enum { O_DIR, O_KEY, O_COMP, O_VER, O_SVN, O_OUT, O_JSON };
    const char *pos[2];
    size_t np = 0;
    int rc = sub_parse("firmware sign ", argc, argv, 2, o, sizeof o / sizeof o[0], pos, 1, &np);
    if (rc != 0)
        return rc;
    if (np != 1 || !o[O_DIR].set || !o[O_COMP].set || !o[O_VER].set || !o[O_SVN].set || !o[O_OUT].set)
        return usage_error("firmware sign ", "%s",
                           "needs --dir KEYS --component C --version V --svn N --out MANIFEST and IMAGE");
    if (!printable(o[O_COMP].value, DROT_MANIFEST_MAX_COMPONENT))
        return usage_error("firmware sign ", "--component must be 1..%u printable characters",
                           DROT_MANIFEST_MAX_COMPONENT);
    if (!printable(o[O_VER].value, DROT_MANIFEST_MAX_VERSION))
        return usage_error("firmware sign ", "--version must be 1..%u printable characters",
                           DROT_MANIFEST_MAX_VERSION);
    char *end;
    errno = 0;
    long svn = strtol(o[O_SVN].value, &end, 10);
    if (errno != 0 || *end != '\0' || end == o[O_SVN].value || svn < 0 || svn > DROT_MANIFEST_MAX_SVN)
        return usage_error("firmware sign ", "--svn must be 0..%u, not '%s'", DROT_MANIFEST_MAX_SVN,
                           o[O_SVN].value);
    const char *key = o[O_KEY].set ? o[O_KEY].value : "authority";
    size_t img_len = 0;
    uint8_t *img = (uint8_t *)slurp(pos[0], DROT_MANIFEST_MAX_IMAGE, &img_len);
    if (img == NULL)
        return 1;
    if (img_len == 0) {
        free(img);
        errmsg("'%s' is empty: a firmware image has at least one byte", pos[0]);
        return 1;
    }
    drot_manifest m = {.component = o[O_COMP].value,
                       .component_len = strlen(o[O_COMP].value),
                       .version = o[O_VER].value,
                       .version_len = strlen(o[O_VER].value),
                       .svn = (uint32_t)svn,
                       .size = (uint32_t)img_len};
    drot_sha256(img, img_len, m.digest);
    free(img);
    uint8_t payload[DROT_MANIFEST_MAX_LEN], msg[DROT_MANIFEST_SIGNED_MAX];
    size_t plen = 0, mlen = 0;
    if (drot_manifest_encode(&m, payload, sizeof payload, &plen) != DROT_OK) {
        errmsg("cannot encode the manifest");
        return 1;
    }
    char pass[DS_KEYS_PASSPHRASE_MAX + 1], err[512] = "";
    ds_keystore *ks = NULL;
    ds_keys_status kst = ds_keys_passphrase(g->pass_file, pass, sizeof pass);
    if (kst == DS_KEYS_OK)
        kst = ds_keystore_open_file(o[O_DIR].value, pass, &ks, err, sizeof err);
    ds_keys_wipe(pass, sizeof pass);
    if (kst == DS_KEYS_OK)
        kst = ds_keys_authority_sign(ks, key, DROT_AUTH_CT_MANIFEST, payload, plen, msg, sizeof msg, &mlen);
    if (kst != DS_KEYS_OK) {
        errmsg("--dir %s, key %s: %s%s%s", o[O_DIR].value, key, ds_keys_status_str(kst), err[0] ? ": " : "",
               err[0] ? err : (ks != NULL ? ds_keystore_error(ks) : ""));
        ds_keystore_close(ks);
        return 1;
    }
    ds_keystore_close(ks);
    /* O_EXCL: a manifest is never silently replaced. */
    int fd = open(o[O_OUT].value, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
    if (fd < 0 || write(fd, msg, mlen) != (ssize_t)mlen || fsync(fd) != 0 || close(fd) != 0) {
        errmsg("cannot write '%s': %s", o[O_OUT].value, strerror(errno));
        if (fd >= 0)
            unlink(o[O_OUT].value);
        return 1;
    }
    if (o[O_JSON].set) {
        json_t *j = manifest_json(&m);
        json_object_set_new(j, "manifest", json_string(o[O_OUT].value));
        json_object_set_new(j, "signed_by", json_string(key));
        return print_json(j);
    }
    char digest[2 * DROT_SHA256_LEN + 1];
    hex_of(m.digest, sizeof m.digest, digest);
    printf("%s: %s %s, SVN %ld, %zu bytes, SHA-256 %s, signed by %s\n", o[O_OUT].value, o[O_COMP].value,
           o[O_VER].value, svn, img_len, digest, key);
    return 0;
}

static int cmd_inspect(int argc, char **argv)
{
    sub_opt o[] = {
        {"anchor", false, NULL, false}, {"image", false, NULL, false}, {"json", true, NULL, false}};
    enum { O_ANCHOR, O_IMAGE, O_JSON };
    const char *pos[2];
    size_t np = 0;
    int rc = sub_parse("firmware inspect ", argc, argv, 2, o, sizeof o / sizeof o[0], pos, 1, &np);
    if (rc != 0)
        return rc;
    if (np != 1)
        return usage_error("firmware inspect ", "%s", "needs MANIFEST");
    drot_anchor_slot slot;
    memset(&slot, 0, sizeof slot);
    size_t alen = 0;
    if (o[O_ANCHOR].set &&
        (strlen(o[O_ANCHOR].value) != 2 * sizeof slot.hash ||
         unhex_str(o[O_ANCHOR].value, slot.hash, sizeof slot.hash, &alen) != 0 || alen != sizeof slot.hash))
        return usage_error("firmware inspect ", "--anchor must be 64 hex digits, not '%s'",
                           o[O_ANCHOR].value);
    slot.present = true;
    size_t len = 0;
    uint8_t *msg = (uint8_t *)slurp(pos[0], DROT_MANIFEST_SIGNED_MAX, &len);
    if (msg == NULL)
        return 1;
    drot_manifest m;
    drot_cose_sign1_view v;
    const char *sig = "not checked (no --anchor)";
    bool ok = true;
    drot_status st = drot_cose_sign1_decode(msg, len, &v);
    if (st == DROT_OK)
        st = drot_manifest_decode(v.payload, v.payload_len, &m);
    if (st != DROT_OK) {
        free(msg);
        errmsg("'%s' is not a manifest: %s", pos[0], drot_status_str(st));
        return 1;
    }
    if (o[O_ANCHOR].set) {
        st = drot_manifest_verify(msg, len, &slot, 1, &m, NULL);
        sig = st == DROT_OK ? "valid under the anchor" : st == DROT_E_BADKEY ? "signer revoked" : "INVALID";
        ok = st == DROT_OK;
        if (st != DROT_OK)
            drot_manifest_decode(v.payload, v.payload_len, &m); /* show it anyway */
    }
    const char *img = "not checked (no --image)";
    if (o[O_IMAGE].set) {
        size_t ilen = 0;
        uint8_t *data = (uint8_t *)slurp(o[O_IMAGE].value, DROT_MANIFEST_MAX_IMAGE, &ilen);
        if (data == NULL) {
            free(msg);
            return 1;
        }
        uint8_t d[DROT_SHA256_LEN];
        drot_sha256(data, ilen, d);
        free(data);
        bool match = ilen == m.size && memcmp(d, m.digest, sizeof d) == 0;
        img = match ? "matches" : ilen != m.size ? "SIZE DIFFERS" : "DIGEST DIFFERS";
        ok = ok && match;
    }
    json_t *j = manifest_json(&m);
    free(msg);
    if (o[O_JSON].set) {
        json_object_set_new(j, "signature", json_string(sig));
        json_object_set_new(j, "image", json_string(img));
        json_object_set_new(j, "ok", json_boolean(ok));
        print_json(j);
    } else {
        printf(
            "component  %s\nversion    %s\nsvn        %lld\nsha256     %s\nsize       %lld\nsignature  %s\n"
            "image      %s\n",
            jstr(j, "component"), jstr(j, "version"),
            (long long)json_integer_value(json_object_get(j, "svn")), jstr(j, "sha256"),
            (long long)json_integer_value(json_object_get(j, "size")), sig, img);
        json_decref(j);
    }
    if (!ok)
        errmsg("manifest %s: signature %s, image %s", pos[0], sig, img);
    return ok ? 0 : 1;
}

int drotctl_cmd_firmware(const admin_opts *g, int argc, char **argv)
{
    if (argc < 2 || has_help(argc, argv)) {
        fputs(k_usage_firmware, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "sign") == 0)
        return cmd_sign(g, argc, argv);
    if (strcmp(argv[1], "inspect") == 0)
        return cmd_inspect(argc, argv);
    return usage_error("firmware ", "unknown subcommand '%s' (sign, inspect)", argv[1]);
}
