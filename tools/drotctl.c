/*
 * drotctl — the operator's tool (DESIGN.md §1). This is its beginning: key
 * management of drot-server (docs/keys.md).
 *
 *   drotctl init --dir DIR [--passphrase-file F] [--server-name NAME]...
 *                [--ca-days N] [--server-days N] [--operator-days N] [--json]
 *   drotctl keys --dir DIR [--json]
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

#include <jansson.h>
#include <openssl/evp.h>

#include "ca.h"
#include "keys.h"

#define EXIT_USAGE       2
#define MAX_SERVER_NAMES 16
#define MIN_PASSPHRASE   8

static const char k_usage[] =
    "usage: drotctl <command> [options]\n"
    "\n"
    "commands:\n"
    "  init   create a key directory: the authority, device CA, operator CA and\n"
    "         server TLS keys, both CA certificates, the server certificate and\n"
    "         an operator \"admin\" certificate and key\n"
    "  keys   list the keys of a key directory (role, file, fingerprint, created, uses)\n"
    "\n"
    "Run 'drotctl <command> --help' for its options. The key passphrase is read from\n"
    "--passphrase-file FILE or the environment variable DROT_KEY_PASSPHRASE, never\n"
    "from the command line.\n";

static const char k_usage_init[] =
    "usage: drotctl init --dir DIR [--passphrase-file FILE] [--server-name NAME]...\n"
    "                    [--ca-days N] [--server-days N] [--operator-days N] [--json]\n"
    "\n"
    "Creates DIR (it must not exist, or be empty) with mode 0700 and in it:\n"
    "  authority, device-ca, operator-ca, server-tls   keys (.key.pem, encrypted\n"
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

static void errmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void errmsg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("drotctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_error(const char *cmd, const char *fmt, ...)
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

static void iso_time(int64_t t, char out[32])
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

static int print_json(json_t *j)
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
    errmsg("unknown command '%s' (see 'drotctl --help')", argv[1]);
    return EXIT_USAGE;
}
