/*
 * main.c — drot-server: the TLS 1.3 device API (docs/api.md), started as
 * docs/operations.md describes.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/pem.h>

#include "admin.h"
#include "audit_server.h"
#include "ca.h"
#include "http.h"
#include "keys.h"
#include "policy_engine.h"
#include "reference.h"
#include "routes.h"
#include "routes_revocation.h"
#include "store.h"

static const char usage[] =
    "usage: drot-server --keys DIR [options]\n"
    "  --config FILE          key = value lines (keys: the long options below without\n"
    "                         dashes); options on the command line override it\n"
    "  --listen ADDR:PORT     numeric address to listen on (default 127.0.0.1:8443)\n"
    "  --db URL               sqlite:PATH or postgresql://... (default sqlite:drot.db)\n"
    "  --keys DIR             key directory made by `drotctl init`\n"
    "  --passphrase-file F    key passphrase (else env DROT_KEY_PASSPHRASE)\n"
    "  --reference DIR        reference values: one CLASS.json per device class\n"
    "  --register FILE        JSON array of identities (drot-apm provision + \"class\") to register\n"
    "  --attest-interval S    seconds between attestations told to devices (default 3600)\n"
    "  --challenge-ttl S      challenge lifetime in seconds (default 60; for tests)\n"
    "  --threads N            worker threads, one event base and database connection each\n"
    "                         (default 2; 1..64)\n"
    "  --authority NAME       the authority key that signs DRoT instructions (default\n"
    "                         \"authority\"; after an anchor rotation \"authority-2\", ...)\n"
    "  --audit-checkpoint-every N  sign the audit log's head with the audit key after\n"
    "                         every N entries (default 1000; 0: only on request and at\n"
    "                         shutdown)\n"
    "  --help\n";

typedef struct opts {
    char host[64];
    unsigned port;
    const char *db, *keys, *pass_file, *ref_dir, *reg_file, *authority;
    long ttl, interval, audit_every;
    unsigned threads;
} opts;

static int parse_listen(const char *s, opts *o)
{
    const char *c = strrchr(s, ':');
    if (c == NULL || (size_t)(c - s) >= sizeof o->host || c == s)
        return -1;
    char *end;
    unsigned long p = strtoul(c + 1, &end, 10);
    if (*end != '\0' || p > 65535 || c[1] == '\0')
        return -1;
    memcpy(o->host, s, (size_t)(c - s));
    o->host[c - s] = '\0';
    o->port = (unsigned)p;
    return 0;
}

static int parse_threads(const char *s, opts *o)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 1 || v > DS_HTTP_MAX_THREADS)
        return -1;
    o->threads = (unsigned)v;
    return 0;
}

/* 0..1000000 entries between automatic audit checkpoints. */
static long parse_every(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    return (*s == '\0' || *end != '\0' || v < 0 || v > 1000000) ? -1 : v;
}

static long parse_pos(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    return (*end != '\0' || v <= 0 || v > 86400 * 365) ? -1 : v;
}

/* Values read from --config (kept for the life of the process). */
static char *config_vals[16];
static size_t config_nvals;

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* --config FILE (docs/operations.md "Configuration file"): sets o from
 * `key = value` lines. 0, or -2 after printing "FILE:LINE: reason". */
static int load_config(const char *path, opts *o)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "drot-server: %s: %s\n", path, strerror(errno));
        return -2;
    }
    static const char *const keys[] = {
        "listen",          "db",      "keys",      "passphrase-file",       "reference", "register",
        "attest-interval", "threads", "authority", "audit-checkpoint-every"};
    char line[4096];
    int rc = 0;
    for (unsigned ln = 1; rc == 0 && fgets(line, sizeof line, f) != NULL; ln++) {
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n' && !feof(f)) {
            fprintf(stderr, "%s:%u: line too long\n", path, ln);
            rc = -2;
            break;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            fprintf(stderr, "%s:%u: expected `key = value`, found no '='\n", path, ln);
            rc = -2;
            break;
        }
        *eq = '\0';
        char *k = trim(s), *v = trim(eq + 1);
        if (strcmp(k, "passphrase") == 0) {
            fprintf(stderr,
                    "%s:%u: the key passphrase is not accepted in a configuration file: name a file "
                    "holding it with passphrase-file, or set env DROT_KEY_PASSPHRASE\n",
                    path, ln);
            rc = -2;
            break;
        }
        size_t ki = 0;
        while (ki < sizeof keys / sizeof keys[0] && strcmp(k, keys[ki]) != 0)
            ki++;
        if (ki == sizeof keys / sizeof keys[0]) {
            fprintf(stderr,
                    "%s:%u: unknown key '%s' (known: listen, db, keys, passphrase-file, reference, "
                    "register, attest-interval, threads, authority, audit-checkpoint-every)\n",
                    path, ln, k);
            rc = -2;
            break;
        }
        if (*v == '\0') {
            fprintf(stderr, "%s:%u: %s: empty value\n", path, ln, k);
            rc = -2;
            break;
        }
        if (ki == 0) {
            if (parse_listen(v, o) != 0) {
                fprintf(stderr, "%s:%u: listen: '%s' is not ADDR:PORT\n", path, ln, v);
                rc = -2;
            }
            continue;
        }
        if (ki == 6) {
            if ((o->interval = parse_pos(v)) < 0) {
                fprintf(stderr, "%s:%u: attest-interval: '%s' is not a number of seconds (1..%d)\n", path, ln,
                        v, 86400 * 365);
                rc = -2;
            }
            continue;
        }
        if (ki == 9) {
            if ((o->audit_every = parse_every(v)) < 0) {
                fprintf(stderr,
                        "%s:%u: audit-checkpoint-every: '%s' is not a number of entries (0..1000000)\n", path,
                        ln, v);
                rc = -2;
            }
            continue;
        }
        if (ki == 7) {
            if (parse_threads(v, o) != 0) {
                fprintf(stderr, "%s:%u: threads: '%s' is not a number of threads (1..%d)\n", path, ln, v,
                        DS_HTTP_MAX_THREADS);
                rc = -2;
            }
            continue;
        }
        char *dup = config_nvals < sizeof config_vals / sizeof config_vals[0] ? strdup(v) : NULL;
        if (dup == NULL) {
            fprintf(stderr, "%s:%u: too many values\n", path, ln);
            rc = -2;
            break;
        }
        config_vals[config_nvals++] = dup;
        const char **dst[] = {NULL,         &o->db, &o->keys, &o->pass_file, &o->ref_dir,
                              &o->reg_file, NULL,   NULL,     &o->authority};
        *dst[ki] = dup;
    }
    fclose(f);
    return rc;
}

/* 0; -1: usage; -2: a --config error (already printed). */
static int parse_args(int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof *o);
    strcpy(o->host, "127.0.0.1");
    o->port = 8443;
    o->db = "sqlite:drot.db";
    o->ttl = 60;
    o->interval = 3600;
    o->threads = 2;
    o->authority = "authority";
    o->audit_every = 1000;
    /* The file first; the command line then overrides it. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            exit(0);
        }
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc && load_config(argv[i + 1], o) != 0)
            return -2;
        i++;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL)
            return -1;
        i++;
        if (strcmp(a, "--config") == 0) {
            /* read above */
        } else if (strcmp(a, "--listen") == 0) {
            if (parse_listen(v, o) != 0)
                return -1;
        } else if (strcmp(a, "--db") == 0) {
            o->db = v;
        } else if (strcmp(a, "--keys") == 0) {
            o->keys = v;
        } else if (strcmp(a, "--passphrase-file") == 0) {
            o->pass_file = v;
        } else if (strcmp(a, "--reference") == 0) {
            o->ref_dir = v;
        } else if (strcmp(a, "--register") == 0) {
            o->reg_file = v;
        } else if (strcmp(a, "--challenge-ttl") == 0) {
            if ((o->ttl = parse_pos(v)) < 0)
                return -1;
        } else if (strcmp(a, "--threads") == 0) {
            if (parse_threads(v, o) != 0)
                return -1;
        } else if (strcmp(a, "--attest-interval") == 0) {
            if ((o->interval = parse_pos(v)) < 0)
                return -1;
        } else if (strcmp(a, "--authority") == 0) {
            o->authority = v;
        } else if (strcmp(a, "--audit-checkpoint-every") == 0) {
            if ((o->audit_every = parse_every(v)) < 0)
                return -1;
        } else {
            return -1;
        }
    }
    return o->keys == NULL ? -1 : 0;
}

static char *read_text(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = malloc(max + 1);
    size_t n = buf == NULL ? 0 : fread(buf, 1, max + 1, f);
    fclose(f);
    if (buf == NULL || n > max) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Every *.json in dir, parsed into a malloc'ed array. */
static int load_refs(const char *dir, ds_reference **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (dir == NULL)
        return 0;
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "drot-server: --reference %s: %s\n", dir, strerror(errno));
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".json") != 0)
            continue;
        char path[4096], err[256];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len = 0;
        char *json = read_text(path, DS_REF_MAX_JSON, &len);
        ds_reference *grown = realloc(*out, (*n + 1) * sizeof **out);
        if (json == NULL || grown == NULL) {
            fprintf(stderr, "drot-server: %s: cannot read\n", path);
            rc = -1;
        } else if (*out = grown, ds_reference_parse(json, len, &grown[*n], err, sizeof err) != 0) {
            fprintf(stderr, "drot-server: %s: %s\n", path, err);
            rc = -1;
        } else {
            fprintf(stderr, "drot-server: reference values for class %s from %s\n", grown[*n].class_name,
                    path);
            (*n)++;
        }
        free(json);
    }
    closedir(d);
    return rc;
}

static int hexdec(const char *s, uint8_t *out, size_t n)
{
    if (s == NULL || strlen(s) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    return 0;
}

/* --register FILE: devices not yet known are registered in one batch. */
static int register_file(ds_store *st, const char *path)
{
    json_error_t jerr;
    json_t *arr = json_load_file(path, 0, &jerr);
    if (arr == NULL || !json_is_array(arr)) {
        fprintf(stderr, "drot-server: --register %s: %s\n", path, arr == NULL ? jerr.text : "not an array");
        json_decref(arr);
        return -1;
    }
    size_t n = json_array_size(arr), k = 0;
    ds_device_new *devs = calloc(n + 1, sizeof *devs);
    int rc = devs == NULL ? -1 : 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        json_t *o = json_array_get(arr, i);
        ds_device_new *d = &devs[k];
        json_t *ep = json_object_get(o, "epoch");
        d->class_name = json_string_value(json_object_get(o, "class"));
        if (hexdec(json_string_value(json_object_get(o, "device_id")), d->device_id, 16) != 0 ||
            hexdec(json_string_value(json_object_get(o, "drk_pub")), d->drk_pub, 65) != 0 ||
            d->class_name == NULL || (ep != NULL && (!json_is_integer(ep) || json_integer_value(ep) < 0))) {
            fprintf(stderr, "drot-server: --register %s: entry %zu: needs device_id, drk_pub (hex), class\n",
                    path, i);
            rc = -1;
            break;
        }
        d->epoch = ep != NULL ? (uint64_t)json_integer_value(ep) : 0;
        ds_device have;
        if (ds_device_get(st, d->device_id, &have) == DS_OK)
            continue; /* registered by an earlier start */
        k++;
    }
    if (rc == 0 && k > 0) {
        ds_status s = ds_device_register_bulk(st, devs, k, NULL);
        if (s != DS_OK) {
            fprintf(stderr, "drot-server: --register %s: %s\n", path, ds_store_error(st));
            rc = -1;
        } else {
            char subject[33] = "";
            if (k == 1)
                ds_audit_hex_id(devs[0].device_id, subject);
            json_t *d = ds_audit_device_batch(devs[0].device_id, sizeof *devs, k);
            json_object_set_new(d, "source", json_string("--register"));
            ds_audit_record(st, "server", "device.register", subject, d);
        }
    }
    if (rc == 0)
        fprintf(stderr, "drot-server: registered %zu new device(s) from %s\n", k, path);
    free(devs);
    json_decref(arr);
    return rc;
}

static X509 *read_cert(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    X509 *c = NULL;
    if (ds_ca_read_cert(path, &c) != DS_KEYS_OK) {
        fprintf(stderr, "drot-server: cannot read %s\n", path);
        return NULL;
    }
    return c;
}

int main(int argc, char **argv)
{
    opts o;
    int prc = parse_args(argc, argv, &o);
    if (prc != 0) {
        if (prc == -1)
            fputs(usage, stderr);
        return 2;
    }
    int rc = 1;
    char err[512] = "", pass[DS_KEYS_PASSPHRASE_MAX + 1];
    ds_store *store = NULL;
    ds_store *wstores[DS_HTTP_MAX_THREADS] = {NULL}; /* workers 1..n-1; worker 0 uses store */
    ds_app apps[DS_HTTP_MAX_THREADS];
    void *ctxs[DS_HTTP_MAX_THREADS];
    ds_keystore *ks = NULL;
    EVP_PKEY *tls_key = NULL;
    X509 *tls_cert = NULL, *op_ca = NULL;
    ds_reference *refs = NULL;
    size_t n_refs = 0, pem_len = 0;
    char *ca_pem = NULL;
    ds_ca dca;
    memset(&dca, 0, sizeof dca);
    ds_http *h = NULL;
    int version = 0;
    ds_admin adm;
    memset(&adm, 0, sizeof adm);
    ds_pol_engine *pol = NULL;             /* docs/policy.md */
    curl_global_init(CURL_GLOBAL_DEFAULT); /* webhook deliveries */

    if (ds_store_open(o.db, &store, err, sizeof err) != DS_OK) {
        fprintf(stderr, "drot-server: --db: %s\n", err);
        goto out;
    }
    if (ds_store_migrate(store, &version) != DS_OK) {
        fprintf(stderr, "drot-server: migration: %s\n", ds_store_error(store));
        goto out;
    }
    fprintf(stderr, "drot-server: database %s schema version %d\n", ds_store_backend(store), version);
    ds_keys_status kst = ds_keys_passphrase(o.pass_file, pass, sizeof pass);
    if (kst != DS_KEYS_OK) {
        fprintf(stderr, "drot-server: passphrase: %s\n", ds_keys_status_str(kst));
        goto out;
    }
    kst = ds_keystore_open_file(o.keys, pass, &ks, err, sizeof err);
    if (kst != DS_KEYS_OK) {
        ds_keys_wipe(pass, sizeof pass);
        fprintf(stderr, "drot-server: --keys %s: %s\n", o.keys, err);
        goto out;
    }
    /* The audit checkpoint signer keeps a key store of its own (audit_server.h). */
    int arc = ds_audit_server_open(ks, o.keys, pass, err, sizeof err);
    ds_keys_wipe(pass, sizeof pass);
    if (arc != 0) {
        fprintf(stderr, "drot-server: audit key: %s\n", err);
        goto out;
    }
    ds_audit_auto_checkpoint(ds_audit_server_signer(), (uint32_t)o.audit_every);
    char path[4096];
    snprintf(path, sizeof path, "%s/device-ca.crt.pem", o.keys);
    ca_pem = read_text(path, 65536, &pem_len);
    if (ca_pem == NULL || ds_ca_open(&dca, ks, "device-ca", ca_pem, pem_len) != DS_KEYS_OK) {
        fprintf(stderr, "drot-server: cannot open the device CA (%s)\n", path);
        goto out;
    }
    tls_cert = read_cert(o.keys, "server-tls.crt.pem");
    op_ca = read_cert(o.keys, "operator-ca.crt.pem");
    if (tls_cert == NULL || op_ca == NULL)
        goto out;
    if (ds_keys_acquire(ks, "server-tls", &tls_key) != DS_KEYS_OK) {
        fprintf(stderr, "drot-server: server-tls key: %s\n", ds_keystore_error(ks));
        goto out;
    }
    ds_key_info auth_info;
    ds_key_role auth_role;
    unsigned auth_n;
    if (ds_key_name_parse(o.authority, &auth_role, &auth_n) != DS_KEYS_OK || auth_role != DS_ROLE_AUTHORITY ||
        ds_keys_info(ks, o.authority, &auth_info) != DS_KEYS_OK) {
        fprintf(
            stderr,
            "drot-server: --authority %s: not an authority key of %s (drotctl keys --dir %s lists them)\n",
            o.authority, o.keys, o.keys);
        goto out;
    }
    if (load_refs(o.ref_dir, &refs, &n_refs) != 0 ||
        (o.reg_file != NULL && register_file(store, o.reg_file) != 0))
        goto out;
    /* This server as a job lease owner: host name and port, stable across a
     * restart (so a restarted server takes up its own leases at once) and
     * different for two servers on one host. At most 63 printable bytes. */
    char server_id[64], host[65] = "";
    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
        snprintf(host, sizeof host, "drot-server");
    for (char *c = host; *c != '\0'; c++)
        if (*c <= 0x20 || *c > 0x7e)
            *c = '_';
    snprintf(server_id, sizeof server_id, "%.48s:%u", host, o.port);
    ds_app app = {store, &dca, ca_pem, refs, n_refs, o.ttl, (uint64_t)o.interval, ks, o.authority, server_id};
    if ((pol = ds_pol_engine_new(o.db, server_id, (uint64_t)o.interval)) == NULL) {
        fprintf(stderr, "drot-server: out of memory\n");
        goto out;
    }
    app.policy = pol;
    if (ds_admin_init(&adm, &app, o.ref_dir, refs, n_refs) != 0) {
        fprintf(stderr, "drot-server: out of memory\n");
        goto out;
    }
    /* One ds_app per worker, differing only in its database connection
     * (store.h: one connection per thread). */
    for (unsigned i = 0; i < o.threads; i++) {
        apps[i] = app;
        if (i > 0 && ds_store_open(o.db, &wstores[i], err, sizeof err) != DS_OK) {
            fprintf(stderr, "drot-server: --db (worker %u): %s\n", i, err);
            goto out;
        }
        if (i > 0)
            apps[i].store = wstores[i];
        ctxs[i] = &apps[i];
    }
    adm.app = &apps[0];
    ds_http_config cfg = {o.host,           (uint16_t)o.port,       tls_cert, tls_key,   dca.cert, op_ca,
                          ds_device_routes, ds_device_routes_count, &apps[0], o.threads, ctxs};
    h = ds_http_start(&cfg, err, sizeof err);
    if (h == NULL) {
        fprintf(stderr, "drot-server: %s\n", err);
        goto out;
    }
    ds_http_set_admin(h, ds_admin_handle, &adm);    /* /v1/admin/: docs/api.md */
    ds_http_set_device_gate(h, ds_rev_device_gate); /* revoked certificates: docs/revocation.md */
    if (ds_pol_engine_start(pol, 0, err, sizeof err) != 0) {
        fprintf(stderr, "drot-server: %s\n", err);
        goto out;
    }
    fprintf(stderr, "drot-server: listening on %s:%u (TLS 1.3, %u thread%s)\n", o.host, o.port, o.threads,
            o.threads == 1 ? "" : "s");
    rc = ds_http_run(h);
    ds_pol_engine_stop(pol); /* its appends, too, before the last checkpoint */
    /* Sign what this run appended, so that a restart leaves no unsigned tail. */
    ds_audit_checkpoint cp;
    ds_status cst = ds_audit_sign_head(store, ds_audit_server_signer(), &cp);
    if (cst == DS_OK)
        fprintf(stderr, "drot-server: audit log checkpoint at entry %lld\n", (long long)cp.seq);
    else if (cst != DS_E_NOT_FOUND)
        fprintf(stderr, "drot-server: audit log: no checkpoint at shutdown: %s\n", ds_store_error(store));
    fprintf(stderr, "drot-server: stopped\n");
out:
    ds_pol_engine_free(pol); /* stops its worker first */
    ds_http_free(h);
    if (tls_key != NULL)
        ds_keys_release(ks, tls_key);
    X509_free(tls_cert);
    X509_free(op_ca);
    ds_ca_close(&dca);
    free(ca_pem);
    free(refs);
    ds_admin_free(&adm);
    ds_audit_server_close();
    ds_keystore_close(ks);
    for (unsigned i = 1; i < DS_HTTP_MAX_THREADS; i++)
        ds_store_close(wstores[i]);
    ds_store_close(store);
    curl_global_cleanup();
    return rc;
}
