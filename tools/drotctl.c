/*
 * drotctl — the operator's tool (DESIGN.md §1). This is its beginning: key
 * management of drot-server (docs/keys.md).
 *
 *   drotctl init --dir DIR [--passphrase-file F] [--server-name NAME]...
 *                [--ca-days N] [--server-days N] [--operator-days N] [--json]
 *   drotctl keys --dir DIR [--json]
 *   drotctl [GLOBAL] devices register|list|show|quarantine|activate|revoke|
 *                    decommission|history ...          (admin API, docs/api.md)
 *   drotctl [GLOBAL] class set-reference|get-reference ...
 *   drotctl [GLOBAL] rotate|rotations|campaign ...     (drotctl_rotate.c)
 *   drotctl token inspect FILE [--key HEX|PEM] [--challenge HEX --exporter HEX]
 *   drotctl [--passphrase-file F] firmware sign|inspect ...   (drotctl_firmware.c)
 *   drotctl [GLOBAL] policy|device|webhooks ...           (drotctl_policy.c)
 *
 * GLOBAL: --server URL --cert FILE --key FILE --ca FILE [--passphrase-file F]
 * (the operator key is decrypted in memory and given to libcurl as a blob).
 *
 * The key passphrase comes from --passphrase-file or DROT_KEY_PASSPHRASE,
 * never from the command line (a --passphrase option is refused by name).
 * Exit status: 0 success, 1 failure (one line on stderr), 2 usage error.
 * Nothing secret is ever printed: keys are shown by fingerprint.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "ca.h"
#include "drot/cose.h"
#include "drot/eat.h"
#include "drot_crypto.h"
#include "drotctl.h"
#include "keys.h"

#define MAX_SERVER_NAMES 16
#define MIN_PASSPHRASE   8

static const char k_usage[] =
    "usage: drotctl <command> [options]\n"
    "\n"
    "commands:\n"
    "  init   create a key directory: the authority, device CA, operator CA,\n"
    "         server TLS and audit keys, both CA certificates, the server certificate and\n"
    "         an operator \"admin\" certificate and key\n"
    "  keys   list the keys of a key directory (role, file, fingerprint, created, uses)\n"
    "  devices  register, list, show, quarantine, activate, revoke, decommission devices,\n"
    "         and show their attestation history (admin API; needs GLOBAL options)\n"
    "  class  set or get the reference values of a device class (admin API)\n"
    "  rotate  rotate a device's root key (DRoT), one device or a class as a campaign\n"
    "  rotations  list, show or cancel rotation jobs (admin API)\n"
    "  campaign  list, show, stop, resume or cancel rotation campaigns (admin API)\n"
    "  authority  rotate the fleet's authority key (trust anchor) on every device\n"
    "  token  inspect an attestation token offline (decode, check signature and nonce)\n"
    "  firmware  sign a firmware image's manifest with an authority key; inspect a manifest\n"
    "  audit  list the audit log, verify its hash chain and signed checkpoints, sign a checkpoint\n"
    "  revoke  revoke a device root key, a device certificate or an authority key (admin API)\n"
    "  revocations  list revocations; decode and check a signed revocation list\n"
    "  policy  validate (offline), plan, apply, get, list a device class's policy; device\n"
    "         status and the engine's actions (docs/policy.md)\n"
    "  device  clear ID: end a device's failed state (FAIL stays failed until then)\n"
    "  webhooks  the policy engine's webhook deliveries and their attempts\n"
    "\n"
    "GLOBAL options, before the command, for the admin API:\n"
    "  --server URL --cert FILE --key FILE --ca FILE [--passphrase-file FILE]\n"
    "\n"
    "Run 'drotctl <command> --help' for its options. The key passphrase is read from\n"
    "--passphrase-file FILE or the environment variable DROT_KEY_PASSPHRASE, never\n"
    "from the command line.\n";

static const char k_usage_init[] =
    "usage: drotctl init --dir DIR [--passphrase-file FILE] [--server-name NAME]...\n"
    "                    [--ca-days N] [--server-days N] [--operator-days N] [--json]\n"
    "\n"
    "Creates DIR (it must not exist, or be empty) with mode 0700 and in it:\n"
    "  authority, device-ca, operator-ca, server-tls, audit   keys (.key.pem, encrypted\n"
    "                                   PKCS#8, mode 0600) and metadata (.json)\n"
    "  device-ca.crt.pem, operator-ca.crt.pem          the CA certificates\n"
    "  server-tls.crt.pem               the server's TLS certificate (device CA)\n"
    "  operators/admin.crt.pem, operators/admin.key.pem  the first operator's\n"
    "                                   client certificate and encrypted key\n"
    "\n"
    "  --dir DIR              the key directory to create\n"
    "  --passphrase-file FILE read the passphrase from FILE (else DROT_KEY_PASSPHRASE);\n"
    "                         at least 8 characters; it encrypts every key\n"
    "  --server-name NAME     DNS name or IP address of the server, repeatable\n"
    "                         (default: localhost and 127.0.0.1)\n"
    "  --ca-days N            CA validity (default 3650)\n"
    "  --server-days N        server certificate validity (default 365)\n"
    "  --operator-days N      operator certificate validity (default 365)\n"
    "  --json                 print the summary as JSON\n";

static const char k_usage_keys[] = "usage: drotctl keys --dir DIR [--json]\n"
                                   "\n"
                                   "Lists the keys in DIR: role, name, file, fingerprint (SHA-256 of the\n"
                                   "public key), creation date and use count. Needs no passphrase.\n"
                                   "\n"
                                   "  --dir DIR   the key directory\n"
                                   "  --json      print as JSON\n";

void errmsg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("drotctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("drotctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'drotctl %s--help')\n", cmd);
    va_end(ap);
    return EXIT_USAGE;
}

/* The passphrase may only come from a file or the environment: an option
 * that would put it on the command line is refused by name, before any
 * other parsing, so it never reaches a log as an "unknown option" either. */
static int refuse_passphrase_arg(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--passphrase") == 0 || strncmp(argv[i], "--passphrase=", 13) == 0 ||
            strcmp(argv[i], "-p") == 0) {
            errmsg("a passphrase is never taken from the command line: set DROT_KEY_PASSPHRASE or use "
                   "--passphrase-file");
            return 1;
        }
    }
    return 0;
}

static int parse_days(const char *s, unsigned *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v == 0 || v > DS_CA_MAX_DAYS)
        return 0;
    *out = (unsigned)v;
    return 1;
}

void iso_time(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "?");
}

/* ---- keys ------------------------------------------------------------- */

static json_t *key_json(const ds_key_info *k)
{
    char created[32];
    iso_time(k->created, created);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "role", ds_key_role_name(k->role), "name", k->name,
                     "file", k->file, "fingerprint", k->fingerprint, "created", created, "uses",
                     (json_int_t)k->uses);
}

static void print_keys_table(const ds_key_info *keys, size_t n)
{
    printf("%-12s %-14s %-20s %-64s %-20s %s\n", "ROLE", "NAME", "FILE", "FINGERPRINT", "CREATED", "USES");
    for (size_t i = 0; i < n; i++) {
        char created[32];
        iso_time(keys[i].created, created);
        printf("%-12s %-14s %-20s %-64s %-20s %llu\n", ds_key_role_name(keys[i].role), keys[i].name,
               keys[i].file, keys[i].fingerprint, created, (unsigned long long)keys[i].uses);
    }
}

int print_json(json_t *j)
{
    if (j == NULL) {
        errmsg("out of memory");
        return 1;
    }
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(j);
    if (s == NULL) {
        errmsg("out of memory");
        return 1;
    }
    puts(s);
    free(s);
    return 0;
}

#define MAX_KEYS 64

static int cmd_keys(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL;
    int json = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'j': json = 1; break;
        case 'h': fputs(k_usage_keys, stdout); return 0;
        default: return usage_error("keys ", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("keys ", "unexpected argument '%s'", argv[optind]);
    if (dir == NULL)
        return usage_error("keys ", "%s", "--dir DIR is required");

    char err[256] = "";
    ds_keystore *ks = NULL;
    ds_keys_status st = ds_keystore_open_file(dir, NULL, &ks, err, sizeof err);
    if (st != DS_KEYS_OK) {
        errmsg("%s", err[0] ? err : ds_keys_status_str(st));
        return 1;
    }
    ds_key_info keys[MAX_KEYS];
    size_t n = 0;
    st = ds_keys_list(ks, keys, MAX_KEYS, &n);
    if (st != DS_KEYS_OK) {
        errmsg("%s: %s", dir, ds_keystore_error(ks)[0] ? ds_keystore_error(ks) : ds_keys_status_str(st));
        ds_keystore_close(ks);
        return 1;
    }
    ds_keystore_close(ks);
    if (!json) {
        print_keys_table(keys, n);
        return 0;
    }
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < n; i++)
        json_array_append_new(arr, key_json(&keys[i]));
    return print_json(json_pack("{s:s, s:o}", "dir", dir, "keys", arr));
}

/* ---- init ------------------------------------------------------------- */

typedef struct init_opts {
    const char *dir;
    const char *pass_file;
    const char *names[MAX_SERVER_NAMES];
    size_t n_names;
    unsigned ca_days, server_days, operator_days;
    int json;
} init_opts;

/* What init made, for the summary. */
typedef struct init_out {
    ds_cert_info device_ca, operator_ca, server, admin;
    char anchor[65]; /* SHA-256 of the authority's 65-byte public key */
} init_out;

/* Removes what init wrote into dir (only the names it writes), then dir. */
static void init_cleanup(const char *dir)
{
    char path[4096];
    static const char *const sub[] = {"admin.key.pem", "admin.crt.pem"};
    for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++) {
        snprintf(path, sizeof path, "%s/operators/%s", dir, sub[i]);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/operators", dir);
    rmdir(path);
    DIR *d = opendir(dir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            size_t l = strlen(e->d_name);
            if (e->d_name[0] == '.' && (l == 1 || (l == 2 && e->d_name[1] == '.')))
                continue;
            if ((l > 5 && strcmp(e->d_name + l - 5, ".json") == 0) ||
                (l > 4 && strcmp(e->d_name + l - 4, ".pem") == 0) ||
                (l > 4 && strcmp(e->d_name + l - 4, ".tmp") == 0)) {
                snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
                unlink(path);
            }
        }
        closedir(d);
    }
    rmdir(dir);
}

static int ks_fail(ds_keystore *ks, const char *what, ds_keys_status st)
{
    const char *detail = ds_keystore_error(ks);
    errmsg("%s: %s", what, detail[0] ? detail : ds_keys_status_str(st));
    return 1;
}

static int write_cert(const char *dir, const char *name, const X509 *cert)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ds_keys_status st = ds_ca_write_cert(path, cert);
    if (st != DS_KEYS_OK) {
        errmsg("%s: %s", path, ds_keys_status_str(st));
        return 1;
    }
    return 0;
}

static int authority_anchor(ds_keystore *ks, char out[65])
{
    drot_p256_pub pub;
    uint8_t raw[DROT_P256_PUB_LEN], md[32];
    unsigned int mdlen = 0;
    if (ds_keys_p256_public(ks, "authority", &pub, raw) != DS_KEYS_OK ||
        EVP_Digest(raw, sizeof raw, md, &mdlen, EVP_sha256(), NULL) != 1)
        return 1;
    for (size_t i = 0; i < sizeof md; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}

/* The operator "admin": key pair made here, certificate from the operator
 * CA, both written under DIR/operators (0700), key encrypted. */
static int init_operator(const init_opts *o, ds_ca *oca, const char *pass, ds_cert_info *info)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/operators", o->dir);
    if (mkdir(path, 0700) != 0) {
        errmsg("%s: %s", path, strerror(errno));
        return 1;
    }
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    int rc = 1;
    ds_keys_status st = ds_keys_new_p256(&key);
    if (st == DS_KEYS_OK)
        st = ds_ca_issue_operator(oca, key, "admin", o->operator_days, &cert, info);
    if (st != DS_KEYS_OK) {
        rc = ks_fail(oca->ks, "operator certificate", st);
        goto out;
    }
    snprintf(path, sizeof path, "%s/operators/admin.key.pem", o->dir);
    st = ds_keys_write_encrypted_pem(path, key, pass);
    if (st != DS_KEYS_OK) {
        errmsg("%s: %s", path, ds_keys_status_str(st));
        goto out;
    }
    snprintf(path, sizeof path, "%s/operators", o->dir);
    rc = write_cert(path, "admin.crt.pem", cert);
out:
    EVP_PKEY_free(key);
    X509_free(cert);
    return rc;
}

/* Everything init creates, in order; the caller cleans up on failure. */
static int init_build(const init_opts *o, const char *pass, ds_keystore *ks, init_out *res)
{
    ds_key_info info;
    for (int r = 0; r < DS_ROLE_COUNT; r++) {
        ds_keys_status st = ds_keys_generate(ks, (ds_key_role)r, &info);
        if (st != DS_KEYS_OK)
            return ks_fail(ks, ds_key_role_name((ds_key_role)r), st);
    }
    ds_ca dca, oca;
    X509 *server = NULL;
    int rc = 1;
    memset(&oca, 0, sizeof oca);
    ds_keys_status st = ds_ca_create(&dca, ks, "device-ca", "drot device CA", o->ca_days, &res->device_ca);
    if (st != DS_KEYS_OK)
        return ks_fail(ks, "device CA", st);
    st = ds_ca_create(&oca, ks, "operator-ca", "drot operator CA", o->ca_days, &res->operator_ca);
    if (st != DS_KEYS_OK) {
        rc = ks_fail(ks, "operator CA", st);
        goto out;
    }
    st = ds_ca_issue_server(&dca, "server-tls", o->names, o->n_names, o->server_days, &server, &res->server);
    if (st != DS_KEYS_OK) {
        rc = ks_fail(ks, "server certificate", st);
        goto out;
    }
    if (write_cert(o->dir, "device-ca.crt.pem", dca.cert) ||
        write_cert(o->dir, "operator-ca.crt.pem", oca.cert) ||
        write_cert(o->dir, "server-tls.crt.pem", server) || init_operator(o, &oca, pass, &res->admin))
        goto out;
    if (authority_anchor(ks, res->anchor) != 0) {
        errmsg("authority: cannot read its public key");
        goto out;
    }
    rc = 0;
out:
    X509_free(server);
    ds_ca_close(&dca);
    ds_ca_close(&oca);
    return rc;
}

static json_t *cert_json(const char *file, const ds_cert_info *c)
{
    char nb[32], na[32];
    iso_time(c->not_before, nb);
    iso_time(c->not_after, na);
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "file", file, "serial", c->serial_hex, "fingerprint",
                     c->fingerprint, "not_before", nb, "not_after", na);
}

static int init_summary(const init_opts *o, ds_keystore *ks, const init_out *res)
{
    ds_key_info keys[MAX_KEYS];
    size_t n = 0;
    ds_keys_status st = ds_keys_list(ks, keys, MAX_KEYS, &n);
    if (st != DS_KEYS_OK)
        return ks_fail(ks, o->dir, st);
    static const char *const names[4] = {"device-ca.crt.pem", "operator-ca.crt.pem", "server-tls.crt.pem",
                                         "operators/admin.crt.pem"};
    const ds_cert_info *certs[4] = {&res->device_ca, &res->operator_ca, &res->server, &res->admin};
    if (o->json) {
        json_t *karr = json_array(), *carr = json_array(), *sn = json_array();
        for (size_t i = 0; karr != NULL && i < n; i++)
            json_array_append_new(karr, key_json(&keys[i]));
        for (size_t i = 0; carr != NULL && i < 4; i++)
            json_array_append_new(carr, cert_json(names[i], certs[i]));
        for (size_t i = 0; sn != NULL && i < o->n_names; i++)
            json_array_append_new(sn, json_string(o->names[i]));
        return print_json(json_pack("{s:s, s:o, s:o, s:o, s:s, s:s, s:s}", "dir", o->dir, "keys", karr,
                                    "certificates", carr, "server_names", sn, "operator", "admin",
                                    "operator_key", "operators/admin.key.pem", "authority_anchor",
                                    res->anchor));
    }
    printf("drotctl: created key directory %s\n\n", o->dir);
    print_keys_table(keys, n);
    printf("\n%-24s %-32s %s\n", "CERTIFICATE", "SERIAL", "NOT AFTER");
    for (size_t i = 0; i < 4; i++) {
        char na[32];
        iso_time(certs[i]->not_after, na);
        printf("%-24s %-32s %s\n", names[i], certs[i]->serial_hex, na);
    }
    printf("\nserver names:");
    for (size_t i = 0; i < o->n_names; i++)
        printf(" %s", o->names[i]);
    printf(
        "\noperator \"admin\": operators/admin.crt.pem, key operators/admin.key.pem (encrypted with the same "
        "passphrase)\n");
    printf("authority anchor (SHA-256 of its public key, for the devices' OTP anchor slot):\n  %s\n",
           res->anchor);
    return 0;
}

static int parse_init(int argc, char **argv, init_opts *o)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"passphrase-file", required_argument, NULL, 'p'},
        {"server-name", required_argument, NULL, 's'},
        {"ca-days", required_argument, NULL, 'c'},
        {"server-days", required_argument, NULL, 'v'},
        {"operator-days", required_argument, NULL, 'o'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (c) {
        case 'd': o->dir = optarg; break;
        case 'p': o->pass_file = optarg; break;
        case 's':
            if (o->n_names == MAX_SERVER_NAMES)
                return usage_error("init ", "at most %d --server-name options", MAX_SERVER_NAMES);
            o->names[o->n_names++] = optarg;
            break;
        case 'c':
            if (!parse_days(optarg, &o->ca_days))
                return usage_error("init ", "--ca-days: '%s' is not a number of days in 1..36500", optarg);
            break;
        case 'v':
            if (!parse_days(optarg, &o->server_days))
                return usage_error("init ", "--server-days: '%s' is not a number of days in 1..36500",
                                   optarg);
            break;
        case 'o':
            if (!parse_days(optarg, &o->operator_days))
                return usage_error("init ", "--operator-days: '%s' is not a number of days in 1..36500",
                                   optarg);
            break;
        case 'j': o->json = 1; break;
        case 'h': fputs(k_usage_init, stdout); return -1;
        default: return usage_error("init ", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("init ", "unexpected argument '%s'", argv[optind]);
    if (o->dir == NULL)
        return usage_error("init ", "%s", "--dir DIR is required");
    if (o->n_names == 0) {
        o->names[o->n_names++] = "localhost";
        o->names[o->n_names++] = "127.0.0.1";
    }
    return 0;
}

static int read_passphrase(const char *file, char *pass, size_t cap)
{
    ds_keys_status st = ds_keys_passphrase(file, pass, cap);
    switch (st) {
    case DS_KEYS_OK: break;
    case DS_KEYS_E_NOTFOUND: errmsg("%s: no such passphrase file", file); return 1;
    case DS_KEYS_E_PERM: errmsg("%s: passphrase file is readable by others; chmod 600 it", file); return 1;
    case DS_KEYS_E_IO: errmsg("%s: cannot read the passphrase file", file); return 1;
    default: errmsg("%s", ds_keys_status_str(st)); return 1;
    }
    if (strlen(pass) < MIN_PASSPHRASE) {
        ds_keys_wipe(pass, cap);
        errmsg("passphrase too short: at least %d characters", MIN_PASSPHRASE);
        return 1;
    }
    return 0;
}

static int cmd_init(int argc, char **argv)
{
    init_opts o;
    memset(&o, 0, sizeof o);
    o.ca_days = 3650;
    o.server_days = 365;
    o.operator_days = 365;
    int rc = parse_init(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 0 : rc;

    char pass[DS_KEYS_PASSPHRASE_MAX + 1];
    if (read_passphrase(o.pass_file, pass, sizeof pass) != 0)
        return 1;
    char err[256] = "";
    ds_keystore *ks = NULL;
    ds_keys_status st = ds_keystore_create_file(o.dir, pass, &ks, err, sizeof err);
    if (st != DS_KEYS_OK) {
        ds_keys_wipe(pass, sizeof pass);
        errmsg("%s", err[0] ? err : ds_keys_status_str(st));
        return 1;
    }
    init_out res;
    memset(&res, 0, sizeof res);
    rc = init_build(&o, pass, ks, &res);
    ds_keys_wipe(pass, sizeof pass);
    if (rc == 0)
        rc = init_summary(&o, ks, &res);
    ds_keystore_close(ks);
    if (rc != 0)
        init_cleanup(o.dir);
    return rc;
}

/* ---- admin API client (docs/operations.md "Operating with drotctl") ---- */

typedef struct http_buf {
    char *p;
    size_t len;
} http_buf;

static size_t on_http_body(char *p, size_t sz, size_t n, void *ctx)
{
    http_buf *b = ctx;
    size_t len = sz * n;
    if (b->len + len > 64u * 1024u * 1024u)
        return 0;
    char *grown = realloc(b->p, b->len + len + 1);
    if (grown == NULL)
        return 0;
    memcpy(grown + b->len, p, len);
    b->p = grown;
    b->len += len;
    b->p[b->len] = '\0';
    return len;
}

/* The operator key, decrypted in memory and re-encoded as unencrypted PEM
 * in a buffer handed to libcurl as a blob (never written to disk). */
static int load_operator_key(const admin_opts *o, char **pem, size_t *pem_len)
{
    char pass[DS_KEYS_PASSPHRASE_MAX + 1];
    ds_keys_status st = ds_keys_passphrase(o->pass_file, pass, sizeof pass);
    if (st != DS_KEYS_OK) {
        errmsg("operator key passphrase: %s", ds_keys_status_str(st));
        return 1;
    }
    FILE *f = fopen(o->key, "r");
    if (f == NULL) {
        ds_keys_wipe(pass, sizeof pass);
        errmsg("%s: %s", o->key, strerror(errno));
        return 1;
    }
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, pass);
    fclose(f);
    ds_keys_wipe(pass, sizeof pass);
    if (k == NULL) {
        errmsg("%s: cannot decrypt the operator key (wrong passphrase or not a PEM key)", o->key);
        return 1;
    }
    BIO *bio = BIO_new(BIO_s_secmem());
    char *p = NULL;
    long n = 0;
    int rc = 1;
    if (bio != NULL && PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL) == 1 &&
        (n = BIO_get_mem_data(bio, &p)) > 0 && (*pem = OPENSSL_secure_malloc((size_t)n)) != NULL) {
        memcpy(*pem, p, (size_t)n);
        *pem_len = (size_t)n;
        rc = 0;
    }
    BIO_free(bio);
    EVP_PKEY_free(k);
    if (rc != 0)
        errmsg("%s: cannot prepare the operator key", o->key);
    return rc;
}

/* One admin call: method, path (under the server URL), optional body. On
 * HTTP 2xx returns 0 with the parsed JSON in *out (may be NULL); else prints
 * the server's error in one line and returns 1. */
int admin_call(const admin_opts *o, const char *method, const char *path, const char *body, json_t **out)
{
    if (out != NULL)
        *out = NULL;
    if (o->server == NULL || o->cert == NULL || o->key == NULL || o->ca == NULL) {
        errmsg("admin commands need --server URL --cert FILE --key FILE --ca FILE (before the command)");
        return EXIT_USAGE;
    }
    char *pem = NULL;
    size_t pem_len = 0;
    if (load_operator_key(o, &pem, &pem_len) != 0)
        return 1;
    CURL *c = curl_easy_init();
    if (c == NULL) {
        OPENSSL_secure_clear_free(pem, pem_len);
        errmsg("cannot initialise libcurl");
        return 1;
    }
    size_t ul = strlen(o->server);
    char url[4096], cerr[CURL_ERROR_SIZE] = "";
    snprintf(url, sizeof url, "%.*s%s", (int)(ul > 0 && o->server[ul - 1] == '/' ? ul - 1 : ul), o->server,
             path);
    struct curl_blob blob = {pem, pem_len, CURL_BLOB_NOCOPY};
    http_buf b = {NULL, 0};
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)(CURL_SSLVERSION_TLSv1_3 | CURL_SSLVERSION_MAX_TLSv1_3));
    curl_easy_setopt(c, CURLOPT_CAINFO, o->ca);
    curl_easy_setopt(c, CURLOPT_SSLCERT, o->cert);
    curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &blob);
    curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_http_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    }
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    OPENSSL_secure_clear_free(pem, pem_len);
    if (rc != CURLE_OK) {
        free(b.p);
        errmsg("%s: %s", url, cerr[0] ? cerr : curl_easy_strerror(rc));
        return 1;
    }
    json_t *j = b.p == NULL ? NULL : json_loadb(b.p, b.len, 0, NULL);
    free(b.p);
    if (code < 200 || code > 299) {
        json_t *e = json_object_get(j, "error");
        const char *msg = json_string_value(json_object_get(e, "message"));
        const char *ecode = json_string_value(json_object_get(e, "code"));
        errmsg("server: %s (HTTP %ld%s%s)", msg != NULL ? msg : "error without a message", code,
               ecode != NULL ? ", " : "", ecode != NULL ? ecode : "");
        json_decref(j);
        return 1;
    }
    if (out != NULL)
        *out = j;
    else
        json_decref(j);
    return 0;
}

/* Reads a whole file (at most max bytes) into a NUL-terminated buffer. */
char *slurp(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        errmsg("%s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(max + 1);
    size_t n = buf == NULL ? 0 : fread(buf, 1, max + 1, f);
    bool failed = ferror(f) != 0;
    fclose(f);
    if (buf == NULL || failed) {
        free(buf);
        errmsg("%s: cannot read it", path);
        return NULL;
    }
    if (n > max) {
        free(buf);
        errmsg("%s: larger than %zu bytes", path, max);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? s : "-";
}

void jtime(const json_t *o, const char *k, char out[32])
{
    json_t *v = json_object_get(o, k);
    if (json_is_integer(v))
        iso_time((int64_t)json_integer_value(v), out);
    else
        snprintf(out, 32, "-");
}

static void print_device_row(const json_t *d)
{
    char last[32];
    jtime(d, "last_attest_at", last);
    printf("%-32s %-20s %-14s %-5lld %-20s %-6s %s\n", jstr(d, "device_id"), jstr(d, "class"),
           jstr(d, "status"), (long long)json_integer_value(json_object_get(d, "epoch")), last,
           jstr(d, "last_result"), jstr(d, "status_reason"));
}

static void print_att_row(const json_t *a)
{
    char at[32];
    jtime(a, "at", at);
    printf("%-8lld %-20s %-6s %s\n", (long long)json_integer_value(json_object_get(a, "id")), at,
           jstr(a, "result"), jstr(a, "reasons")[0] != '\0' ? jstr(a, "reasons") : "-");
}

static const char k_usage_devices[] =
    "usage: drotctl [GLOBAL] devices <subcommand> ...\n"
    "\n"
    "  register FILE [--class C]     register devices in bulk (all or nothing): FILE is a JSON\n"
    "                                array of {\"device_id\", \"drk_pub\", \"class\"} or, with\n"
    "                                --class, NDJSON lines as `drot-apm provision` prints them\n"
    "  list [--class C] [--status S] [--limit N] [--offset N] [--json]\n"
    "  show ID [--json]              one device, its last attestation and key history\n"
    "  quarantine|activate|revoke|decommission ID --reason TEXT\n"
    "  history ID [--limit N] [--json]   attestation history, newest first\n"
    "\n"
    "GLOBAL: --server URL --cert FILE --key FILE --ca FILE [--passphrase-file FILE]\n"
    "  the operator certificate and its encrypted key (drotctl init writes\n"
    "  operators/admin.{crt,key}.pem), the CA that signed the server's certificate\n"
    "  (device-ca.crt.pem); the key passphrase comes from --passphrase-file or\n"
    "  DROT_KEY_PASSPHRASE.\n";

static const char k_usage_class[] = "usage: drotctl [GLOBAL] class set-reference CLASS FILE\n"
                                    "       drotctl [GLOBAL] class get-reference CLASS\n"
                                    "\n"
                                    "Sets (validated by the server; errors name the field) or prints the\n"
                                    "reference values of a device class (docs/verifier.md). GLOBAL as in\n"
                                    "'drotctl devices --help'.\n";

static const char k_usage_token[] =
    "usage: drotctl token inspect FILE [--key HEX|PEMFILE] [--challenge HEX --exporter HEX]\n"
    "\n"
    "Decodes an attestation token (COSE_Sign1 + EAT, drot or psa profile; FILE holds\n"
    "the raw bytes or their hex) and prints it as JSON: every claim, bytes in hex.\n"
    "Offline: no server is needed.\n"
    "  --key HEX|PEMFILE   the device's DRK public key (130 hex digits, 04...) or a PEM\n"
    "                      public key file: verify the signature and the instance id\n"
    "  --challenge HEX --exporter HEX   check nonce == SHA-256(challenge || exporter)\n"
    "Exit 0 when every requested check passes, 1 with the reason when one fails.\n";

int sub_parse(const char *cmd, int argc, char **argv, int from, sub_opt *o, size_t no, const char **pos,
              size_t maxpos, size_t *npos)
{
    *npos = 0;
    for (int i = from; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) == 0) {
            size_t k = 0;
            while (k < no && strcmp(o[k].name, a + 2) != 0)
                k++;
            if (k == no)
                return usage_error(cmd, "unknown option '%s'", a);
            o[k].set = true;
            if (!o[k].flag) {
                if (i + 1 >= argc)
                    return usage_error(cmd, "option '%s' needs a value", a);
                o[k].value = argv[++i];
            }
        } else {
            if (*npos == maxpos)
                return usage_error(cmd, "unexpected argument '%s'", a);
            pos[(*npos)++] = a;
        }
    }
    return 0;
}

bool has_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

bool valid_id(const char *s)
{
    if (strlen(s) != 32)
        return false;
    for (size_t i = 0; i < 32; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F')))
            return false;
    return true;
}

/* NDJSON provision lines (or a JSON array) as the register body. */
static char *register_body(const char *file, const char *cls)
{
    size_t len = 0;
    char *text = slurp(file, 256u * 1024u * 1024u, &len);
    if (text == NULL)
        return NULL;
    json_t *arr = NULL;
    json_error_t e;
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\n' || text[i] == '\t' || text[i] == '\r'))
        i++;
    if (i < len && text[i] == '[') {
        arr = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
        if (arr == NULL || !json_is_array(arr)) {
            errmsg("%s: not a JSON array: %s (line %d)", file, arr == NULL ? e.text : "another type", e.line);
            json_decref(arr);
            free(text);
            return NULL;
        }
    } else {
        arr = json_array();
        char *save = NULL;
        int line = 0;
        for (char *l = strtok_r(text, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
            line++;
            if (strspn(l, " \t\r") == strlen(l))
                continue;
            json_t *o = json_loads(l, JSON_REJECT_DUPLICATES, &e);
            if (o == NULL || !json_is_object(o)) {
                errmsg("%s:%d: not a JSON object: %s", file, line, o == NULL ? e.text : "another type");
                json_decref(o);
                json_decref(arr);
                free(text);
                return NULL;
            }
            json_array_append_new(arr, o);
        }
    }
    free(text);
    size_t idx;
    json_t *o;
    json_array_foreach(arr, idx, o)
    {
        if (cls != NULL)
            json_object_set_new(o, "class", json_string(cls));
        else if (json_object_get(o, "class") == NULL) {
            errmsg("%s: entry %zu has no \"class\": add one or pass --class C", file, idx);
            json_decref(arr);
            return NULL;
        }
    }
    char *s = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return s;
}

static int cmd_devices(const admin_opts *g, int argc, char **argv)
{
    if (argc < 2 || has_help(argc, argv)) {
        fputs(k_usage_devices, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    const char *sub = argv[1];
    sub_opt o[] = {{"class", false, NULL, false},  {"status", false, NULL, false},
                   {"json", true, NULL, false},    {"limit", false, NULL, false},
                   {"offset", false, NULL, false}, {"reason", false, NULL, false}};
    enum { O_CLASS, O_STATUS, O_JSON, O_LIMIT, O_OFFSET, O_REASON };
    const char *pos[2];
    size_t np = 0;
    int rc = sub_parse("devices ", argc, argv, 2, o, sizeof o / sizeof o[0], pos, 2, &np);
    if (rc != 0)
        return rc;
    char path[1024];
    json_t *j = NULL;
    if (strcmp(sub, "register") == 0) {
        if (np != 1)
            return usage_error("devices ", "%s", "register needs FILE");
        char *body = register_body(pos[0], o[O_CLASS].value);
        if (body == NULL)
            return 1;
        rc = admin_call(g, "POST", "/v1/admin/devices", body, &j);
        free(body);
        if (rc == 0)
            printf("registered %lld device(s)\n",
                   (long long)json_integer_value(json_object_get(j, "registered")));
        json_decref(j);
        return rc;
    }
    if (strcmp(sub, "list") == 0) {
        if (np != 0)
            return usage_error("devices ", "unexpected argument '%s'", pos[0]);
        char *cu = o[O_CLASS].value ? curl_easy_escape(NULL, o[O_CLASS].value, 0) : NULL;
        char *su = o[O_STATUS].value ? curl_easy_escape(NULL, o[O_STATUS].value, 0) : NULL;
        char *lu = o[O_LIMIT].value ? curl_easy_escape(NULL, o[O_LIMIT].value, 0) : NULL;
        char *ou = o[O_OFFSET].value ? curl_easy_escape(NULL, o[O_OFFSET].value, 0) : NULL;
        snprintf(path, sizeof path, "/v1/admin/devices?limit=%s&offset=%s%s%s%s%s", lu ? lu : "10000",
                 ou ? ou : "0", cu ? "&class=" : "", cu ? cu : "", su ? "&status=" : "", su ? su : "");
        curl_free(cu);
        curl_free(su);
        curl_free(lu);
        curl_free(ou);
        rc = admin_call(g, "GET", path, NULL, &j);
        if (rc != 0)
            return rc;
        if (o[O_JSON].set)
            return print_json(j);
        printf("%-32s %-20s %-14s %-5s %-20s %-6s %s\n", "DEVICE", "CLASS", "STATUS", "EPOCH", "LAST ATTEST",
               "RESULT", "REASON");
        size_t i;
        json_t *d;
        json_array_foreach(json_object_get(j, "devices"), i, d) print_device_row(d);
        json_decref(j);
        return 0;
    }
    if (np != 1 || !valid_id(pos[0]))
        return usage_error("devices ", "%s needs a device ID (32 hex digits)", sub);
    if (strcmp(sub, "show") == 0) {
        snprintf(path, sizeof path, "/v1/admin/devices/%s", pos[0]);
        rc = admin_call(g, "GET", path, NULL, &j);
        if (rc != 0 || o[O_JSON].set)
            return rc != 0 ? rc : print_json(j);
        char t[32];
        printf("device       %s\nclass        %s\nstatus       %s", jstr(j, "device_id"), jstr(j, "class"),
               jstr(j, "status"));
        if (jstr(j, "status_reason")[0] != '\0')
            printf(" (%s)", jstr(j, "status_reason"));
        printf("\nepoch        %lld\ndrk_pub      %s\ninstance_id  %s\n",
               (long long)json_integer_value(json_object_get(j, "epoch")), jstr(j, "drk_pub"),
               jstr(j, "instance_id"));
        jtime(j, "registered_at", t);
        printf("registered   %s\n", t);
        jtime(j, "updated_at", t);
        printf("updated      %s\nattestations %lld\n", t,
               (long long)json_integer_value(json_object_get(j, "attest_count")));
        json_t *last = json_object_get(j, "last_attestation");
        if (json_is_object(last)) {
            printf("last attestation:\n  ");
            print_att_row(last);
        }
        size_t i;
        json_t *k;
        json_t *keys = json_object_get(j, "key_history");
        if (json_array_size(keys) > 0)
            printf("retired keys:\n");
        json_array_foreach(keys, i, k)
        {
            jtime(k, "retired_at", t);
            printf("  epoch %lld  %s  retired %s\n",
                   (long long)json_integer_value(json_object_get(k, "epoch")), jstr(k, "instance_id"), t);
        }
        json_decref(j);
        return 0;
    }
    if (strcmp(sub, "history") == 0) {
        snprintf(path, sizeof path, "/v1/admin/devices/%s/attestations?limit=%s", pos[0],
                 o[O_LIMIT].value != NULL &&
                         strspn(o[O_LIMIT].value, "0123456789") == strlen(o[O_LIMIT].value)
                     ? o[O_LIMIT].value
                     : "50");
        rc = admin_call(g, "GET", path, NULL, &j);
        if (rc != 0 || o[O_JSON].set)
            return rc != 0 ? rc : print_json(j);
        printf("%-8s %-20s %-6s %s\n", "ID", "AT", "RESULT", "REASONS");
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(j, "attestations"), i, a) print_att_row(a);
        json_decref(j);
        return 0;
    }
    static const char *const verbs[][2] = {{"quarantine", "quarantined"},
                                           {"activate", "active"},
                                           {"revoke", "revoked"},
                                           {"decommission", "decommissioned"}};
    for (size_t v = 0; v < sizeof verbs / sizeof verbs[0]; v++) {
        if (strcmp(sub, verbs[v][0]) != 0)
            continue;
        if (o[O_REASON].value == NULL || o[O_REASON].value[0] == '\0')
            return usage_error("devices ", "%s needs --reason TEXT", sub);
        json_t *b = json_pack("{s:s, s:s}", "status", verbs[v][1], "reason", o[O_REASON].value);
        char *body = b == NULL ? NULL : json_dumps(b, JSON_COMPACT);
        json_decref(b);
        if (body == NULL) {
            errmsg("out of memory");
            return 1;
        }
        snprintf(path, sizeof path, "/v1/admin/devices/%s/status", pos[0]);
        rc = admin_call(g, "POST", path, body, &j);
        free(body);
        if (rc == 0 && o[O_JSON].set)
            return print_json(j);
        if (rc == 0)
            printf("%s: %s\n", jstr(j, "device_id"), jstr(j, "status"));
        json_decref(j);
        return rc;
    }
    return usage_error("devices ", "unknown subcommand '%s'", sub);
}

static int cmd_class(const admin_opts *g, int argc, char **argv)
{
    if (argc < 2 || has_help(argc, argv)) {
        fputs(k_usage_class, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    const char *pos[2];
    size_t np = 0;
    int rc = sub_parse("class ", argc, argv, 2, NULL, 0, pos, 2, &np);
    if (rc != 0)
        return rc;
    char path[512];
    json_t *j = NULL;
    if (strcmp(argv[1], "set-reference") == 0) {
        if (np != 2)
            return usage_error("class ", "%s", "set-reference needs CLASS FILE");
        size_t len = 0;
        char *body = slurp(pos[1], 1024u * 1024u, &len);
        if (body == NULL)
            return 1;
        char *cu = curl_easy_escape(NULL, pos[0], 0);
        snprintf(path, sizeof path, "/v1/admin/classes/%s/reference", cu != NULL ? cu : "");
        curl_free(cu);
        rc = admin_call(g, "PUT", path, body, &j);
        free(body);
        if (rc == 0)
            printf("reference values of class %s stored\n", pos[0]);
        json_decref(j);
        return rc;
    }
    if (strcmp(argv[1], "get-reference") == 0) {
        if (np != 1)
            return usage_error("class ", "%s", "get-reference needs CLASS");
        char *cu = curl_easy_escape(NULL, pos[0], 0);
        snprintf(path, sizeof path, "/v1/admin/classes/%s/reference", cu != NULL ? cu : "");
        curl_free(cu);
        rc = admin_call(g, "GET", path, NULL, &j);
        return rc != 0 ? rc : print_json(j);
    }
    return usage_error("class ", "unknown subcommand '%s'", argv[1]);
}

/* ---- token inspect (offline) -------------------------------------------- */

int unhex_str(const char *s, uint8_t *out, size_t cap, size_t *len)
{
    size_t n = 0, digits = 0;
    unsigned acc = 0;
    for (; *s != '\0'; s++) {
        char c = *s;
        int v = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (v < 0) {
            if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
                continue;
            return -1;
        }
        acc = (acc << 4) | (unsigned)v;
        if (++digits % 2 == 0) {
            if (n == cap)
                return -1;
            out[n++] = (uint8_t)acc;
            acc = 0;
        }
    }
    if (digits % 2 != 0 || digits == 0)
        return -1;
    *len = n;
    return 0;
}

static json_t *bytes_json(drot_eat_bytes b)
{
    if (b.p == NULL)
        return json_null();
    char *s = malloc(2 * b.len + 1);
    if (s == NULL)
        return NULL;
    for (size_t i = 0; i < b.len; i++)
        snprintf(s + 2 * i, 3, "%02x", b.p[i]);
    s[2 * b.len] = '\0';
    json_t *j = json_string(s);
    free(s);
    return j;
}

static json_t *text_json(drot_eat_text t)
{
    return t.p == NULL ? json_null() : json_stringn(t.p, t.len);
}

static json_t *claims_json(const drot_eat_claims *c)
{
    json_t *comps = json_array();
    for (size_t i = 0; comps != NULL && i < c->num_components; i++) {
        const drot_eat_sw_component *s = &c->components[i];
        json_array_append_new(comps, json_pack("{s:o, s:o, s:o, s:o, s:o}", "measurement_type",
                                               text_json(s->measurement_type), "measurement_value",
                                               bytes_json(s->measurement_value), "version",
                                               text_json(s->version), "signer_id", bytes_json(s->signer_id),
                                               "measurement_desc", text_json(s->measurement_desc)));
    }
    json_t *j = json_pack(
        "{s:s, s:o, s:o, s:o, s:I, s:I, s:o, s:o, s:o, s:o}", "profile",
        c->profile == DROT_EAT_PROFILE_DROT ? DROT_EAT_PROFILE_DROT_STR : DROT_EAT_PROFILE_PSA_STR, "nonce",
        bytes_json(c->nonce), "instance_id", bytes_json(c->instance_id), "implementation_id",
        bytes_json(c->implementation_id), "client_id", (json_int_t)c->client_id, "security_lifecycle",
        (json_int_t)c->security_lifecycle, "boot_seed", bytes_json(c->boot_seed), "certification_reference",
        text_json(c->certification_reference), "verification_service", text_json(c->verification_service),
        "sw_components", comps);
    if (j != NULL && c->profile == DROT_EAT_PROFILE_DROT) {
        json_t *svns = json_array();
        for (size_t i = 0; svns != NULL && i < c->drot.num_svns; i++)
            json_array_append_new(svns,
                                  json_pack("{s:I, s:I}", "component", (json_int_t)c->drot.svns[i].component,
                                            "svn", (json_int_t)c->drot.svns[i].svn));
        json_object_set_new(j, "drot",
                            json_pack("{s:o, s:I, s:o, s:I, s:I}", "device_id", bytes_json(c->drot.device_id),
                                      "epoch", (json_int_t)c->drot.epoch, "svns", svns, "tamper_state",
                                      (json_int_t)c->drot.tamper_state, "tamper_count",
                                      (json_int_t)c->drot.tamper_count));
    }
    return j;
}

/* --key: 130 hex digits, or a PEM public key (or certificate) file. */
static int load_pub(const char *arg, drot_p256_pub *pub)
{
    uint8_t raw[DROT_P256_PUB_LEN + 1];
    size_t n = 0;
    if (strlen(arg) == 2 * DROT_P256_PUB_LEN && unhex_str(arg, raw, sizeof raw, &n) == 0)
        return drot_p256_pub_import(raw, n, pub) == DROT_OK ? 0 : -1;
    FILE *f = fopen(arg, "r");
    if (f == NULL)
        return -1;
    EVP_PKEY *k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    if (k == NULL) {
        rewind(f);
        X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
        k = x != NULL ? X509_get_pubkey(x) : NULL;
        X509_free(x);
    }
    fclose(f);
    n = 0;
    int rc = k != NULL &&
                     EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, raw, sizeof raw,
                                                     &n) == 1 &&
                     drot_p256_pub_import(raw, n, pub) == DROT_OK
                 ? 0
                 : -1;
    EVP_PKEY_free(k);
    return rc;
}

static int cmd_token(int argc, char **argv)
{
    if (argc < 2 || has_help(argc, argv)) {
        fputs(k_usage_token, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "inspect") != 0)
        return usage_error("token ", "unknown subcommand '%s'", argv[1]);
    sub_opt o[] = {
        {"key", false, NULL, false}, {"challenge", false, NULL, false}, {"exporter", false, NULL, false}};
    const char *pos[1];
    size_t np = 0;
    int rc = sub_parse("token ", argc, argv, 2, o, 3, pos, 1, &np);
    if (rc != 0)
        return rc;
    if (np != 1)
        return usage_error("token ", "%s", "inspect needs FILE");
    if ((o[1].value == NULL) != (o[2].value == NULL))
        return usage_error("token ", "%s", "--challenge and --exporter go together");
    uint8_t ch[32], ex[32];
    size_t chl = 0, exl = 0;
    if (o[1].value != NULL && (unhex_str(o[1].value, ch, sizeof ch, &chl) != 0 || chl != 32 ||
                               unhex_str(o[2].value, ex, sizeof ex, &exl) != 0 || exl != 32))
        return usage_error("token ", "%s", "--challenge and --exporter are 64 hex digits each");
    drot_p256_pub pub;
    if (o[0].value != NULL && load_pub(o[0].value, &pub) != 0) {
        errmsg("--key %s: not a P-256 public key (130 hex digits or a PEM file)", o[0].value);
        return 1;
    }
    size_t len = 0;
    char *file = slurp(pos[0], 1024u * 1024u, &len);
    if (file == NULL)
        return 1;
    uint8_t *tok = malloc(len + 1);
    size_t tlen = 0;
    if (tok == NULL) {
        free(file);
        errmsg("out of memory");
        return 1;
    }
    if (len > 0 && unhex_str(file, tok, len, &tlen) == 0) {
        /* hex text */
    } else {
        memcpy(tok, file, len);
        tlen = len;
    }
    free(file);
    drot_cose_sign1_view v;
    drot_eat_claims c;
    drot_status st = drot_cose_sign1_decode(tok, tlen, &v);
    if (st != DROT_OK) {
        free(tok);
        errmsg("%s: not a COSE_Sign1 token: %s", pos[0], drot_status_str(st));
        return 1;
    }
    st = drot_eat_decode(v.payload, v.payload_len, &c);
    if (st != DROT_OK) {
        free(tok);
        errmsg("%s: COSE_Sign1 payload is not an EAT of either profile: %s", pos[0], drot_status_str(st));
        return 1;
    }
    json_t *checks = json_object();
    const char *failed = NULL;
    char why[200] = "";
    if (o[0].value != NULL) {
        st = drot_cose_sign1_verify(&v, &pub, NULL, 0);
        json_object_set_new(checks, "signature", json_string(st == DROT_OK ? "ok" : "FAIL"));
        if (st != DROT_OK && failed == NULL) {
            failed = "signature";
            snprintf(why, sizeof why, "the signature does not verify under --key (%s)", drot_status_str(st));
        }
        uint8_t ueid[DROT_EAT_INSTANCE_ID_LEN];
        ueid[0] = 0x01;
        bool ok = drot_sha256(pub.q, DROT_P256_PUB_LEN, ueid + 1) == DROT_OK &&
                  c.instance_id.len == sizeof ueid && memcmp(c.instance_id.p, ueid, sizeof ueid) == 0;
        json_object_set_new(checks, "instance_id", json_string(ok ? "ok" : "FAIL"));
        if (!ok && failed == NULL) {
            failed = "instance_id";
            snprintf(why, sizeof why, "the instance id claim is not 0x01 || SHA-256(--key)");
        }
    }
    if (o[1].value != NULL) {
        uint8_t want[32];
        drot_cbuf parts[2] = {{ch, 32}, {ex, 32}};
        bool ok =
            drot_sha256_v(parts, 2, want) == DROT_OK && c.nonce.len == 32 && memcmp(c.nonce.p, want, 32) == 0;
        json_object_set_new(checks, "nonce", json_string(ok ? "ok" : "FAIL"));
        if (!ok && failed == NULL) {
            failed = "nonce";
            snprintf(why, sizeof why, "the nonce is not SHA-256(challenge || exporter)");
        }
    }
    drot_eat_bytes kb = {v.kid, v.kid_len};
    json_t *kj = v.kid != NULL && v.kid_len <= 64 ? bytes_json(kb) : json_null();
    json_t *cose =
        json_pack("{s:I, s:o, s:b, s:o, s:o}", "alg", (json_int_t)v.alg, "kid", kj, "tagged", v.tagged,
                  "content_type", v.has_content_type ? json_integer((json_int_t)v.content_type) : json_null(),
                  "signature", bytes_json((drot_eat_bytes){v.signature, v.signature_len}));
    rc = print_json(json_pack("{s:o, s:o, s:o}", "cose", cose, "claims", claims_json(&c), "checks", checks));
    free(tok);
    if (failed != NULL) {
        errmsg("%s check failed: %s", failed, why);
        return 1;
    }
    return rc;
}

/* Global options before an admin command; returns the index of the command
 * word, or -1 after a usage message. */
static int parse_global(int argc, char **argv, admin_opts *g)
{
    memset(g, 0, sizeof *g);
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        const char *a = argv[i];
        if (i + 1 >= argc) {
            usage_error("", "option '%s' needs a value", a);
            return -1;
        }
        const char *v = argv[i + 1];
        if (strcmp(a, "--server") == 0)
            g->server = v;
        else if (strcmp(a, "--cert") == 0)
            g->cert = v;
        else if (strcmp(a, "--key") == 0)
            g->key = v;
        else if (strcmp(a, "--ca") == 0)
            g->ca = v;
        else if (strcmp(a, "--passphrase-file") == 0)
            g->pass_file = v;
        else {
            usage_error("", "unknown global option '%s'", a);
            return -1;
        }
    }
    if (i >= argc) {
        usage_error("", "%s", "a command is required");
        return -1;
    }
    return i;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(k_usage, stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        fputs(k_usage, stdout);
        return 0;
    }
    if (refuse_passphrase_arg(argc, argv))
        return EXIT_USAGE;
    /* getopt_long sees the command's own arguments, argv[1] as its "name". */
    if (strcmp(argv[1], "init") == 0)
        return cmd_init(argc - 1, argv + 1);
    if (strcmp(argv[1], "keys") == 0)
        return cmd_keys(argc - 1, argv + 1);
    admin_opts g;
    int ci = parse_global(argc, argv, &g);
    if (ci < 0)
        return EXIT_USAGE;
    int rc = -1;
    if (strcmp(argv[ci], "devices") == 0 || strcmp(argv[ci], "class") == 0 ||
        strcmp(argv[ci], "rotate") == 0 || strcmp(argv[ci], "rotations") == 0 ||
        strcmp(argv[ci], "campaign") == 0 || strcmp(argv[ci], "authority") == 0 ||
        strcmp(argv[ci], "audit") == 0 || strcmp(argv[ci], "revoke") == 0 ||
        strcmp(argv[ci], "revocations") == 0) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        if (strcmp(argv[ci], "devices") == 0)
            rc = cmd_devices(&g, argc - ci, argv + ci);
        else if (strcmp(argv[ci], "class") == 0)
            rc = cmd_class(&g, argc - ci, argv + ci);
        else if (strcmp(argv[ci], "rotate") == 0)
            rc = drotctl_cmd_rotate(&g, argc - ci, argv + ci);
        else if (strcmp(argv[ci], "rotations") == 0)
            rc = drotctl_cmd_rotations(&g, argc - ci, argv + ci);
        else if (strcmp(argv[ci], "campaign") == 0)
            rc = drotctl_cmd_campaign(&g, argc - ci, argv + ci);
        else if (strcmp(argv[ci], "audit") == 0)
            rc = drotctl_cmd_audit(&g, argc - ci, argv + ci);
        else if (strcmp(argv[ci], "revoke") == 0)
            rc = drotctl_cmd_revoke(&g, argc - ci, argv + ci);
        else if (strcmp(argv[ci], "revocations") == 0)
            rc = drotctl_cmd_revocations(&g, argc - ci, argv + ci);
        else
            rc = drotctl_cmd_authority(&g, argc - ci, argv + ci);
        curl_global_cleanup();
        return rc;
    }
    if (strcmp(argv[ci], "token") == 0)
        return cmd_token(argc - ci, argv + ci);
    if (strcmp(argv[ci], "firmware") == 0)
        return drotctl_cmd_firmware(&g, argc - ci, argv + ci);
    if (strcmp(argv[ci], "policy") == 0 || strcmp(argv[ci], "device") == 0 ||
        strcmp(argv[ci], "webhooks") == 0) {
        curl_global_init(CURL_GLOBAL_DEFAULT); /* drotctl_policy.c */
        rc = argv[ci][0] == 'p'   ? drotctl_cmd_policy(&g, argc - ci, argv + ci)
             : argv[ci][0] == 'd' ? drotctl_cmd_device(&g, argc - ci, argv + ci)
                                  : drotctl_cmd_webhooks(&g, argc - ci, argv + ci);
        curl_global_cleanup();
        return rc;
    }
    argv[1] = argv[ci];
    errmsg("unknown command '%s' (see 'drotctl --help')", argv[1]);
    return EXIT_USAGE;
}
