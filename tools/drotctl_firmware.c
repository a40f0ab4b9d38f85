/*
 * drotctl_firmware.c — firmware manifests (DESIGN.md §7.3, drot/manifest.h):
 *
 *   drotctl firmware sign --dir KEYS [--key NAME] --component C --version V --svn N
 *                         --out MANIFEST IMAGE [--json]
 *   drotctl firmware inspect MANIFEST [--anchor HEX] [--image IMAGE] [--json]
 *
 *   drotctl [GLOBAL] firmware publish MANIFEST [IMAGE] [--json]
 *   drotctl [GLOBAL] firmware list [--component C] [--json]
 *   drotctl [GLOBAL] firmware rollout --class C --component X --version V --max-in-flight N
 *                                     [--max-attempts K] [--job-timeout S] [--json]
 *   drotctl [GLOBAL] firmware rollouts [--class C] [--state S] [--json]
 *   drotctl [GLOBAL] firmware rollout-show ID [--json]
 *   drotctl [GLOBAL] firmware pause|resume|cancel ID [--reason TEXT] [--json]
 *   drotctl [GLOBAL] firmware jobs [--device ID] [--rollout N] [--state S] [--json]
 *   drotctl [GLOBAL] firmware plan --class C --component X --version V [--json]
 *
 * sign: the manifest (component, version, SVN, SHA-256 and size of IMAGE) as
 * an authority object signed through key custody by the authority key NAME
 * (default "authority"), written atomically to MANIFEST.
 * inspect: decodes a manifest offline; with --anchor it checks the signature
 * the way a device does (drot_manifest_verify against that anchor), with
 * --image it checks the image's digest and size. Exit 1 on any mismatch.
 * The other commands call the admin API (docs/api.md "Firmware"): publish
 * uploads IMAGE in chunks (only those the server lacks, so an interrupted
 * publish resumes) and publishes the manifest; the rest manage rollouts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "drot/cose.h"
#include "drot/manifest.h"
#include "drot_crypto.h"
#include "drotctl.h"
#include "keys.h"

static const char k_usage_firmware[] =
    "usage: drotctl firmware sign --dir KEYS [--key NAME] --component C --version V --svn N\n"
    "                             --out MANIFEST IMAGE [--json]\n"
    "       drotctl firmware inspect MANIFEST [--anchor HEX] [--image IMAGE] [--json]\n"
    "       drotctl [GLOBAL] firmware publish MANIFEST [IMAGE] [--json]\n"
    "       drotctl [GLOBAL] firmware list [--component C] [--json]\n"
    "       drotctl [GLOBAL] firmware rollout --class C --component X --version V --max-in-flight N\n"
    "                                         [--max-attempts K] [--job-timeout S] [--json]\n"
    "       drotctl [GLOBAL] firmware rollouts [--class C] [--state S] [--json]\n"
    "       drotctl [GLOBAL] firmware rollout-show ID [--json]\n"
    "       drotctl [GLOBAL] firmware pause|resume|cancel ID [--reason TEXT] [--json]\n"
    "       drotctl [GLOBAL] firmware jobs [--device ID] [--rollout N] [--state S] [--json]\n"
    "       drotctl [GLOBAL] firmware plan --class C --component X --version V [--json]\n"
    "\n"
    "sign     writes the manifest of IMAGE (component, version, SVN, SHA-256, size), signed by the\n"
    "         authority key NAME of the key directory KEYS (default: authority; the passphrase\n"
    "         from --passphrase-file or DROT_KEY_PASSPHRASE). C is the measured component's type\n"
    "         (APM, HOST-BL, HOST-OS; 1..16 printable characters), V 1..32 printable characters,\n"
    "         N 0..63. MANIFEST must not exist.\n"
    "inspect  decodes a manifest and prints it. --anchor HEX (64 hex digits, as 'drotctl init'\n"
    "         prints it) checks the signature as a device does; --image checks the image's\n"
    "         digest and size. Exit status 1 when a check fails.\n"
    "publish  sends IMAGE to the server's repository in chunks (only those it lacks: a publish\n"
    "         that was interrupted resumes) and publishes MANIFEST for it; the server checks the\n"
    "         signature against its authority keys and the image's size and SHA-256. Without\n"
    "         IMAGE the image must already be in the repository. Progress goes to stderr.\n"
    "list     the published releases.\n"
    "rollout  stages release X V over the enrolled and active devices of class C that do not\n"
    "         run it: each gets a job at its next PASS attestation, at most N at a time\n"
    "         (--max-in-flight). A job that fails, or makes no progress within --job-timeout\n"
    "         seconds (default 3600), is retried up to --max-attempts times (default 3). An\n"
    "         open rollout of the same release is kept (new devices join it); one of another\n"
    "         release of X is cancelled (its jobs in flight finish).\n"
    "rollouts, rollout-show  rollouts and their jobs by state (pending, offered, installed,\n"
    "         confirmed, failed, cancelled); pause holds back jobs not yet offered, resume\n"
    "         continues, cancel cancels the pending jobs.\n"
    "jobs     firmware jobs, by device, rollout or state.\n"
    "plan     the devices a rollout of X V to class C would update, and what they run now.\n";

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

/* ---- admin API commands ------------------------------------------------------------------------ */

#define CHUNK (256u * 1024u) /* the server's chunk size (firmware.h FW_CHUNK_SIZE) */

static long long jint_of(const json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

/* A value for a URL query (curl_easy_escape), or NULL after a message. */
static char *qesc(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    if (e == NULL)
        errmsg("out of memory");
    return e;
}

/* A whole number 1..max, or -1. */
static long long count_arg(const char *s, long long max)
{
    char *end;
    errno = 0;
    long long v = s != NULL ? strtoll(s, &end, 10) : -1;
    if (s == NULL || errno != 0 || end == s || *end != '\0' || v < 1 || v > max)
        return -1;
    return v;
}

/* Progress of an upload on stderr: rewritten in place on a terminal,
 * about every tenth otherwise (logs). */
static void progress(const char *digest, uint32_t done, uint32_t total, uint64_t bytes, uint64_t size)
{
    static int last_tenth = -1;
    bool tty = isatty(STDERR_FILENO) == 1;
    int tenth = total == 0 ? 10 : (int)(10u * done / total);
    if (!tty && tenth == last_tenth && done != total)
        return;
    last_tenth = tenth;
    fprintf(stderr, "%sdrotctl: uploading image %.12s…: %u/%u chunks, %.1f of %.1f MiB%s", tty ? "\r" : "",
            digest, done, total, (double)bytes / 1048576.0, (double)size / 1048576.0,
            tty && done != total ? "" : "\n");
    fflush(stderr);
}

/* PUTs one chunk; the server's IMAGE answer in *out. */
static int put_chunk(const admin_opts *g, const char *dhex, const uint8_t *img, uint32_t size, uint32_t idx,
                     json_t **out)
{
    size_t off = (size_t)idx * CHUNK, len = size - off < CHUNK ? size - off : CHUNK;
    char *b64 = malloc(4 * ((len + 2) / 3) + 1);
    if (b64 == NULL) {
        errmsg("out of memory");
        return 1;
    }
    EVP_EncodeBlock((unsigned char *)b64, img + off, (int)len);
    json_t *body =
        json_pack("{s:I, s:I, s:s}", "size", (json_int_t)size, "offset", (json_int_t)off, "data", b64);
    free(b64);
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text == NULL) {
        errmsg("out of memory");
        return 1;
    }
    char path[160];
    snprintf(path, sizeof path, "/v1/admin/firmware/images/%s", dhex);
    int rc = admin_call(g, "PUT", path, text, out);
    free(text);
    return rc;
}

/* Uploads the chunks of img the server lacks. The first PUT (chunk 0, a
 * no-op when the server has it) tells which are missing, so an
 * interrupted publish resumes where it stopped. */
static int upload(const admin_opts *g, const char *dhex, const uint8_t *img, uint32_t size, size_t *sent)
{
    uint32_t n = (uint32_t)(((uint64_t)size + CHUNK - 1) / CHUNK);
    json_t *im = NULL;
    *sent = 0;
    if (put_chunk(g, dhex, img, size, 0, &im) != 0)
        return 1;
    (*sent)++;
    json_t *missing = json_incref(json_object_get(im, "missing"));
    uint32_t have = n - (uint32_t)json_array_size(missing);
    bool complete = json_is_true(json_object_get(im, "complete"));
    json_decref(im);
    progress(dhex, have, n, (uint64_t)have * CHUNK > size ? size : (uint64_t)have * CHUNK, size);
    size_t i;
    json_t *v;
    int rc = 0;
    json_array_foreach(missing, i, v)
    {
        if (complete || rc != 0)
            break;
        uint32_t idx = (uint32_t)json_integer_value(v);
        if (idx >= n) {
            errmsg("the server asks for chunk %u of an image of %u chunks", idx, n);
            rc = 1;
            break;
        }
        rc = put_chunk(g, dhex, img, size, idx, &im);
        if (rc == 0) {
            (*sent)++;
            have++;
            complete = json_is_true(json_object_get(im, "complete"));
            json_decref(im);
            progress(dhex, have, n, (uint64_t)have * CHUNK > size ? size : (uint64_t)have * CHUNK, size);
        }
    }
    json_decref(missing);
    if (rc == 0 && !complete) {
        errmsg("the server did not report the image complete after the upload");
        rc = 1;
    }
    return rc;
}

static int cmd_publish(const admin_opts *g, int argc, char **argv)
{
    sub_opt o[] = {{"json", true, NULL, false}};
    const char *pos[2];
    size_t np = 0;
    int rc = sub_parse("firmware publish ", argc, argv, 2, o, 1, pos, 2, &np);
    if (rc != 0)
        return rc;
    if (np < 1)
        return usage_error("firmware publish ", "%s",
                           "needs MANIFEST (and IMAGE unless it is on the server)");
    size_t mlen = 0;
    uint8_t *msg = (uint8_t *)slurp(pos[0], 4096, &mlen);
    if (msg == NULL)
        return 1;
    /* Read locally to name what is published and to check IMAGE before
     * sending it; the server verifies the signature (it knows the anchors). */
    drot_cose_sign1_view v;
    drot_manifest m;
    drot_status st = drot_cose_sign1_decode(msg, mlen, &v);
    if (st == DROT_OK)
        st = drot_manifest_decode(v.payload, v.payload_len, &m);
    if (st != DROT_OK) {
        free(msg);
        errmsg("'%s' is not a signed manifest (%s): make one with 'drotctl firmware sign'", pos[0],
               drot_status_str(st));
        return 1;
    }
    char dhex[2 * DROT_SHA256_LEN + 1], comp[DROT_MANIFEST_MAX_COMPONENT + 1],
        ver[DROT_MANIFEST_MAX_VERSION + 1];
    hex_of(m.digest, sizeof m.digest, dhex);
    snprintf(comp, sizeof comp, "%.*s", (int)m.component_len, m.component);
    snprintf(ver, sizeof ver, "%.*s", (int)m.version_len, m.version);
    size_t sent = 0;
    if (np == 2) {
        size_t ilen = 0;
        uint8_t *img = (uint8_t *)slurp(pos[1], DROT_MANIFEST_MAX_IMAGE, &ilen);
        if (img == NULL) {
            free(msg);
            return 1;
        }
        uint8_t d[DROT_SHA256_LEN];
        drot_sha256(img, ilen, d);
        if (ilen != m.size || memcmp(d, m.digest, sizeof d) != 0) {
            char got[2 * DROT_SHA256_LEN + 1];
            hex_of(d, sizeof d, got);
            errmsg("'%s' does not match '%s': %zu bytes with SHA-256 %s, the manifest says %u bytes with %s "
                   "(was "
                   "the image changed after signing?); nothing was sent",
                   pos[1], pos[0], ilen, got, m.size, dhex);
            free(img);
            free(msg);
            return 1;
        }
        rc = upload(g, dhex, img, (uint32_t)ilen, &sent);
        free(img);
        if (rc != 0) {
            free(msg);
            errmsg("the upload stopped; run the same command again to resume it");
            return rc;
        }
    }
    char *mhex = malloc(2 * mlen + 1);
    if (mhex != NULL)
        hex_of(msg, mlen, mhex);
    free(msg);
    json_t *body = mhex != NULL ? json_pack("{s:s}", "manifest", mhex) : NULL;
    free(mhex);
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text == NULL) {
        errmsg("out of memory");
        return 1;
    }
    json_t *r = NULL;
    rc = admin_call(g, "POST", "/v1/admin/firmware/releases", text, &r);
    free(text);
    if (rc != 0)
        return rc;
    if (o[0].set) {
        json_object_set_new(r, "chunks_sent", json_integer((json_int_t)sent));
        return print_json(r);
    }
    bool created = json_is_true(json_object_get(r, "created"));
    printf("%s%s %s: release %lld, SVN %lld, %lld bytes, image %s, signed by %s\n",
           created ? "published " : "already published with the same content: ", comp, ver, jint_of(r, "id"),
           jint_of(r, "svn"), jint_of(r, "size"), jstr(r, "image_digest"), jstr(r, "signer_key"));
    json_decref(r);
    return 0;
}

static int cmd_list(const admin_opts *g, int argc, char **argv)
{
    sub_opt o[] = {{"component", false, NULL, false}, {"json", true, NULL, false}};
    const char *pos[1];
    size_t np = 0;
    int rc = sub_parse("firmware list ", argc, argv, 2, o, 2, pos, 0, &np);
    if (rc != 0)
        return rc;
    char path[256] = "/v1/admin/firmware/releases?limit=10000";
    if (o[0].set) {
        char *e = qesc(o[0].value);
        if (e == NULL)
            return 1;
        snprintf(path, sizeof path, "/v1/admin/firmware/releases?limit=10000&component=%s", e);
        curl_free(e);
    }
    json_t *j = NULL;
    if ((rc = admin_call(g, "GET", path, NULL, &j)) != 0)
        return rc;
    if (o[1].set)
        return print_json(j);
    printf("%-5s %-16s %-12s %-4s %-10s %-16s %-20s %s\n", "ID", "COMPONENT", "VERSION", "SVN", "SIZE",
           "IMAGE", "PUBLISHED", "BY");
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(j, "releases"), i, r)
    {
        char t[32];
        jtime(r, "published_at", t);
        printf("%-5lld %-16s %-12s %-4lld %-10lld %.16s %-20s %s\n", jint_of(r, "id"), jstr(r, "component"),
               jstr(r, "version"), jint_of(r, "svn"), jint_of(r, "size"), jstr(r, "image_digest"), t,
               jstr(r, "published_by"));
    }
    json_decref(j);
    return 0;
}

static void print_rollout_row(const json_t *r)
{
    const json_t *jobs = json_object_get(r, "jobs");
    char t[32];
    jtime(r, "updated_at", t);
    printf("%-5lld %-16s %-10s %-12s %-9s %3lld/%-3lld %4lld %4lld %4lld %4lld %-20s\n", jint_of(r, "id"),
           jstr(r, "class"), jstr(r, "component"), jstr(r, "version"), jstr(r, "state"),
           jint_of(r, "in_flight"), jint_of(r, "max_in_flight"), jint_of(jobs, "pending"),
           jint_of(jobs, "confirmed"), jint_of(jobs, "failed"), jint_of(jobs, "cancelled"), t);
}

static void print_rollout(const json_t *r)
{
    const json_t *jobs = json_object_get(r, "jobs");
    char t[32];
    printf("rollout        %lld\nclass          %s\nrelease        %s %s (release %lld)\nstate          %s",
           jint_of(r, "id"), jstr(r, "class"), jstr(r, "component"), jstr(r, "version"),
           jint_of(r, "release_id"), jstr(r, "state"));
    if (jstr(r, "state_reason")[0] != '\0' && strcmp(jstr(r, "state_reason"), "-") != 0)
        printf(" (%s)", jstr(r, "state_reason"));
    printf("\nin flight      %lld of at most %lld\nattempts       at most %lld per device\njob timeout    "
           "%lld s\n",
           jint_of(r, "in_flight"), jint_of(r, "max_in_flight"), jint_of(r, "max_attempts"),
           jint_of(r, "job_timeout"));
    printf("jobs           %lld pending, %lld offered, %lld installed, %lld confirmed, %lld failed, %lld "
           "cancelled\n",
           jint_of(jobs, "pending"), jint_of(jobs, "offered"), jint_of(jobs, "installed"),
           jint_of(jobs, "confirmed"), jint_of(jobs, "failed"), jint_of(jobs, "cancelled"));
    jtime(r, "created_at", t);
    printf("created        %s by %s\n", t, jstr(r, "created_by"));
    jtime(r, "updated_at", t);
    printf("updated        %s\n", t);
}

static void print_job_row(const json_t *j)
{
    char t[32];
    jtime(j, "updated_at", t);
    printf("%-6lld %-32s %-7lld %-9s %3lld/%-3lld %-20s %s\n", jint_of(j, "id"), jstr(j, "device_id"),
           jint_of(j, "rollout_id"), jstr(j, "state"), jint_of(j, "attempts"), jint_of(j, "max_attempts"), t,
           jstr(j, "error")[0] != '\0' ? jstr(j, "error") : "-");
}

static void job_header(void)
{
    printf("%-6s %-32s %-7s %-9s %-7s %-20s %s\n", "JOB", "DEVICE", "ROLLOUT", "STATE", "TRIES", "UPDATED",
           "LAST ERROR");
}

static int cmd_rollout(const admin_opts *g, int argc, char **argv)
{
    sub_opt o[] = {{"class", false, NULL, false},        {"component", false, NULL, false},
                   {"version", false, NULL, false},      {"max-in-flight", false, NULL, false},
                   {"max-attempts", false, NULL, false}, {"job-timeout", false, NULL, false},
                   {"json", true, NULL, false}};
    enum { O_CLASS, O_COMP, O_VER, O_MIF, O_ATT, O_TMO, O_JSON };
    const char *pos[1];
    size_t np = 0;
    int rc = sub_parse("firmware rollout ", argc, argv, 2, o, sizeof o / sizeof o[0], pos, 0, &np);
    if (rc != 0)
        return rc;
    if (!o[O_CLASS].set || !o[O_COMP].set || !o[O_VER].set || !o[O_MIF].set)
        return usage_error("firmware rollout ", "%s",
                           "needs --class C --component X --version V --max-in-flight N");
    long long mif = count_arg(o[O_MIF].value, 100000), att = o[O_ATT].set ? count_arg(o[O_ATT].value, 20) : 3,
              tmo = o[O_TMO].set ? count_arg(o[O_TMO].value, 7 * 86400) : 3600;
    if (mif < 0 || att < 0 || tmo < 0)
        return usage_error("firmware rollout ", "%s",
                           "--max-in-flight must be 1..100000, --max-attempts 1..20, --job-timeout 1..604800 "
                           "seconds");
    json_t *body = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "class", o[O_CLASS].value, "component",
                             o[O_COMP].value, "version", o[O_VER].value, "max_in_flight", (json_int_t)mif,
                             "max_attempts", (json_int_t)att, "job_timeout", (json_int_t)tmo);
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text == NULL) {
        errmsg("out of memory (or a value that is not UTF-8)");
        return 1;
    }
    json_t *j = NULL;
    rc = admin_call(g, "POST", "/v1/admin/firmware/rollouts", text, &j);
    free(text);
    if (rc != 0)
        return rc;
    if (o[O_JSON].set)
        return print_json(j);
    const json_t *r = json_object_get(j, "rollout");
    if (!json_is_object(r)) {
        printf("no rollout: %s\n", jstr(j, "message"));
    } else {
        if (json_is_integer(json_object_get(j, "superseded")))
            printf("rollout %lld of another release was cancelled (its jobs in flight finish)\n",
                   jint_of(j, "superseded"));
        printf("%s rollout %lld: %lld job(s) %s\n",
               json_is_true(json_object_get(j, "created")) ? "started" : "kept", jint_of(r, "id"),
               jint_of(j, "jobs_created"), json_is_true(json_object_get(j, "created")) ? "created" : "added");
        print_rollout(r);
    }
    json_decref(j);
    return 0;
}

static int cmd_rollouts(const admin_opts *g, int argc, char **argv)
{
    sub_opt o[] = {{"class", false, NULL, false}, {"state", false, NULL, false}, {"json", true, NULL, false}};
    const char *pos[1];
    size_t np = 0;
    int rc = sub_parse("firmware rollouts ", argc, argv, 2, o, 3, pos, 0, &np);
    if (rc != 0)
        return rc;
    char path[512] = "/v1/admin/firmware/rollouts?limit=10000";
    for (int k = 0; k < 2; k++) {
        if (!o[k].set)
            continue;
        char *e = qesc(o[k].value);
        if (e == NULL)
            return 1;
        size_t l = strlen(path);
        snprintf(path + l, sizeof path - l, "&%s=%s", k == 0 ? "class" : "state", e);
        curl_free(e);
    }
    json_t *j = NULL;
    if ((rc = admin_call(g, "GET", path, NULL, &j)) != 0)
        return rc;
    if (o[2].set)
        return print_json(j);
    printf("%-5s %-16s %-10s %-12s %-9s %-7s %4s %4s %4s %4s %-20s\n", "ID", "CLASS", "COMPONENT", "VERSION",
           "STATE", "FLIGHT", "PEND", "DONE", "FAIL", "CANC", "UPDATED");
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(j, "rollouts"), i, r) print_rollout_row(r);
    json_decref(j);
    return 0;
}

static int cmd_show(const admin_opts *g, int argc, char **argv)
{
    sub_opt o[] = {{"json", true, NULL, false}};
    const char *pos[1];
    size_t np = 0;
    int rc = sub_parse("firmware rollout-show ", argc, argv, 2, o, 1, pos, 1, &np);
    if (rc != 0)
        return rc;
    long long id = np == 1 ? count_arg(pos[0], INT32_MAX) : -1;
    if (id < 0)
        return usage_error("firmware rollout-show ", "%s", "needs a rollout ID (a positive number)");
    char path[96];
    snprintf(path, sizeof path, "/v1/admin/firmware/rollouts/%lld", id);
    json_t *j = NULL;
    if ((rc = admin_call(g, "GET", path, NULL, &j)) != 0)
        return rc;
    if (o[0].set)
        return print_json(j);
    print_rollout(j);
    printf("\n");
    job_header();
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(j, "device_jobs"), i, x) print_job_row(x);
    json_decref(j);
    return 0;
}

static int cmd_state(const admin_opts *g, int argc, char **argv)
{
    sub_opt o[] = {{"reason", false, NULL, false}, {"json", true, NULL, false}};
    const char *pos[1];
    size_t np = 0;
    char cmd[32];
    snprintf(cmd, sizeof cmd, "firmware %s ", argv[1]);
    int rc = sub_parse(cmd, argc, argv, 2, o, 2, pos, 1, &np);
    if (rc != 0)
        return rc;
    long long id = np == 1 ? count_arg(pos[0], INT32_MAX) : -1;
    if (id < 0)
        return usage_error(cmd, "%s", "needs a rollout ID (a positive number)");
    const char *to = strcmp(argv[1], "pause") == 0    ? "paused"
                     : strcmp(argv[1], "resume") == 0 ? "running"
                                                      : "cancelled";
    json_t *body = json_pack("{s:s}", "state", to);
    if (o[0].set)
        json_object_set_new(body, "reason", json_string(o[0].value));
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text == NULL) {
        errmsg("out of memory (or a reason that is not UTF-8)");
        return 1;
    }
    char path[96];
    snprintf(path, sizeof path, "/v1/admin/firmware/rollouts/%lld/state", id);
    json_t *j = NULL;
    rc = admin_call(g, "POST", path, text, &j);
    free(text);
    if (rc != 0)
        return rc;
    if (o[1].set)
        return print_json(j);
    print_rollout(j);
    json_decref(j);
    return 0;
}

static int cmd_jobs(const admin_opts *g, int argc, char **argv)
{
    sub_opt o[] = {{"device", false, NULL, false},
                   {"rollout", false, NULL, false},
                   {"state", false, NULL, false},
                   {"json", true, NULL, false}};
    const char *pos[1];
    size_t np = 0;
    int rc = sub_parse("firmware jobs ", argc, argv, 2, o, 4, pos, 0, &np);
    if (rc != 0)
        return rc;
    if (o[0].set && !valid_id(o[0].value))
        return usage_error("firmware jobs ", "--device must be 32 hex digits, not '%s'", o[0].value);
    if (o[1].set && count_arg(o[1].value, INT32_MAX) < 0)
        return usage_error("firmware jobs ", "--rollout must be a rollout id, not '%s'", o[1].value);
    char path[512] = "/v1/admin/firmware/jobs?limit=10000";
    static const char *const names[] = {"device", "rollout", "state"};
    for (int k = 0; k < 3; k++) {
        if (!o[k].set)
            continue;
        char *e = qesc(o[k].value);
        if (e == NULL)
            return 1;
        size_t l = strlen(path);
        snprintf(path + l, sizeof path - l, "&%s=%s", names[k], e);
        curl_free(e);
    }
    json_t *j = NULL;
    if ((rc = admin_call(g, "GET", path, NULL, &j)) != 0)
        return rc;
    if (o[3].set)
        return print_json(j);
    job_header();
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(j, "jobs"), i, x) print_job_row(x);
    json_decref(j);
    return 0;
}

static int cmd_plan(const admin_opts *g, int argc, char **argv)
{
    sub_opt o[] = {{"class", false, NULL, false},
                   {"component", false, NULL, false},
                   {"version", false, NULL, false},
                   {"json", true, NULL, false}};
    const char *pos[1];
    size_t np = 0;
    int rc = sub_parse("firmware plan ", argc, argv, 2, o, 4, pos, 0, &np);
    if (rc != 0)
        return rc;
    if (!o[0].set || !o[1].set || !o[2].set)
        return usage_error("firmware plan ", "%s", "needs --class C --component X --version V");
    char path[512] = "/v1/admin/firmware/plan?";
    static const char *const names[] = {"class", "component", "version"};
    for (int k = 0; k < 3; k++) {
        char *e = qesc(o[k].value);
        if (e == NULL)
            return 1;
        size_t l = strlen(path);
        snprintf(path + l, sizeof path - l, "%s%s=%s", k ? "&" : "", names[k], e);
        curl_free(e);
    }
    json_t *j = NULL;
    if ((rc = admin_call(g, "GET", path, NULL, &j)) != 0)
        return rc;
    if (o[3].set)
        return print_json(j);
    printf("%lld device(s) of class %s would get %s %s:\n", jint_of(j, "count"), o[0].value, o[1].value,
           o[2].value);
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(j, "devices"), i, x) printf(
        "  %s  now %s\n", jstr(x, "device_id"),
        json_is_string(json_object_get(x, "current_version")) ? jstr(x, "current_version") : "unknown");
    json_decref(j);
    return 0;
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
    static const struct {
        const char *name;
        int (*fn)(const admin_opts *, int, char **);
    } admin[] = {{"publish", cmd_publish},   {"list", cmd_list},         {"rollout", cmd_rollout},
                 {"rollouts", cmd_rollouts}, {"rollout-show", cmd_show}, {"pause", cmd_state},
                 {"resume", cmd_state},      {"cancel", cmd_state},      {"jobs", cmd_jobs},
                 {"plan", cmd_plan}};
    for (size_t i = 0; i < sizeof admin / sizeof admin[0]; i++) {
        if (strcmp(argv[1], admin[i].name) != 0)
            continue;
        curl_global_init(CURL_GLOBAL_DEFAULT);
        int rc = admin[i].fn(g, argc, argv);
        curl_global_cleanup();
        return rc;
    }
    return usage_error("firmware ",
                       "unknown subcommand '%s' (sign, inspect, publish, list, rollout, rollouts, "
                       "rollout-show, pause, resume, cancel, jobs, plan)",
                       argv[1]);
}
