/*
 * drot-fleet — a fleet of simulated devices against real drot-server
 * processes: load generator, benchmark driver and smoke test (docs/fleet.md).
 *
 *   drot-fleet create    --state DIR --devices N --anchor HEX [--class C]   manufacture and register
 *   drot-fleet enroll    --state DIR                                         one enrollment per device
 *   drot-fleet attest    --state DIR [--attests K] [--new-connections]      the attestation storm
 *   drot-fleet rotate    --state DIR [--mode server|device]                  a DRoT rotation campaign
 *   drot-fleet hold      --state DIR                                         every device connected at once
 *   drot-fleet reference [--ref-seconds S]                                   the raw operations alone
 *
 * Each phase runs its devices on --workers threads, prints progress on
 * stderr, and ends with one summary (text, or JSON with --json): counts,
 * errors, latencies (p50/p90/p99/max), and — with --server-pid — the
 * server processes' own CPU time (/proc/PID/stat) per operation, divided by
 * the raw operations measured by this process through the same crypto
 * library before and after the phase.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "drot/manifest.h"
#include "drot_crypto.h"
#include "drot_sysrng.h"
#include "fleet.h"

static const char usage_text[] =
    "usage: drot-fleet COMMAND --state DIR [options]\n"
    "\n"
    "Simulates a fleet of devices, each an APM core linked into this process (OpenSSL\n"
    "backend, fuses and flash in STATE/d/N/) whose agent protocol runs against real\n"
    "drot-server processes over TLS 1.3 with mutual TLS (docs/fleet.md).\n"
    "\n"
    "commands:\n"
    "  create     manufacture N devices (anchors: a factory key and --anchor) and\n"
    "             register them through the admin API\n"
    "  enroll     every device enrolls (challenge, token, CSR) and keeps its certificate\n"
    "  attest     K attestations per device, over one persistent connection per device\n"
    "             and server, or a new connection each (--new-connections)\n"
    "  rotate     a rotation campaign over the class (admin API), then every device\n"
    "             attests once and carries out its job (device-root-key rotation)\n"
    "  hold       every device connects and attests, and keeps its connection open until\n"
    "             all are connected: the servers' memory (VmRSS/VmHWM) is sampled\n"
    "  reference  only the raw operations (ECDSA P-256 verify/sign, P-256 keygen and\n"
    "             ECDH, X25519) through the crypto library, CPU microseconds each\n"
    "\n"
    "options:\n"
    "  --state DIR           the fleet's state directory (create makes it)\n"
    "  --server URL          a drot-server (https://HOST:PORT); repeat for several: requests\n"
    "                        go round-robin over them\n"
    "  --each-server         the servers have separate databases: register and enroll every\n"
    "                        device at each (default: they share one database)\n"
    "  --keys DIR            `drotctl init` directory: sets --ca DIR/device-ca.crt.pem and the\n"
    "                        operator DIR/operators/admin.{crt,key}.pem\n"
    "  --ca FILE             the device CA the servers' certificates chain to\n"
    "  --operator-cert FILE --operator-key FILE   the admin API's client certificate\n"
    "  --passphrase-file F   the operator key's passphrase (else env DROT_KEY_PASSPHRASE)\n"
    "  --devices N           create: how many (1..10000000); other commands: the first N\n"
    "  --class NAME          create: the devices' class (default fleet-v1)\n"
    "  --anchor HEX          create: the server's authority anchor (64 hex digits, `drotctl\n"
    "                        init --json` authority_anchor), so the devices obey its DRoT\n"
    "                        instructions\n"
    "  --attests K           attest: per device (default 5)\n"
    "  --new-connections     attest: a new TLS connection (full handshake) every time\n"
    "  --mode server|device  rotate: who generates the new key (default server)\n"
    "  --workers W           device threads (default 4, 1..256)\n"
    "  --server-pid PID      a server process to account (CPU, memory); repeatable\n"
    "  --ref-seconds S       CPU seconds per raw operation for the reference, before and\n"
    "                        after the phase (default 0.3; 0: none)\n"
    "  --timeout S           per HTTP request (default 30)\n"
    "  --json                the summary as one JSON object on stdout\n"
    "  --quiet               no progress lines\n"
    "\n"
    "Exit status: 0 every device succeeded; 1 some failed (the summary counts them and\n"
    "names the first error); 2 usage or set-up error.\n";

static void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void die(int code, const char *fmt, ...)
{
    va_list ap;
    fputs("drot-fleet: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(code);
}

static const char *phase_names[] = {"create", "enroll", "attest", "rotate", "hold", "reference"};

static unsigned long parse_ul(const char *opt, const char *v, unsigned long lo, unsigned long hi)
{
    char *end;
    errno = 0;
    unsigned long x = strtoul(v, &end, 10);
    if (*v == '\0' || *end != '\0' || errno != 0 || x < lo || x > hi || v[0] == '-')
        die(2, "%s must be a whole number from %lu to %lu, not '%s'", opt, lo, hi, v);
    return x;
}

static void parse(int argc, char **argv, fleet_cfg *c, bool *reference_only)
{
    static char ca[FLEET_PATH_MAX], cert[FLEET_PATH_MAX], key[FLEET_PATH_MAX], pass[1024];
    static const struct option opts[] = {{"state", required_argument, 0, 's'},
                                         {"server", required_argument, 0, 'S'},
                                         {"each-server", no_argument, 0, 'E'},
                                         {"keys", required_argument, 0, 'k'},
                                         {"ca", required_argument, 0, 'c'},
                                         {"operator-cert", required_argument, 0, 'C'},
                                         {"operator-key", required_argument, 0, 'K'},
                                         {"passphrase-file", required_argument, 0, 'p'},
                                         {"devices", required_argument, 0, 'n'},
                                         {"class", required_argument, 0, 'l'},
                                         {"anchor", required_argument, 0, 'a'},
                                         {"attests", required_argument, 0, 'A'},
                                         {"new-connections", no_argument, 0, 'N'},
                                         {"mode", required_argument, 0, 'm'},
                                         {"workers", required_argument, 0, 'w'},
                                         {"server-pid", required_argument, 0, 'P'},
                                         {"ref-seconds", required_argument, 0, 'r'},
                                         {"timeout", required_argument, 0, 't'},
                                         {"json", no_argument, 0, 'j'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    memset(c, 0, sizeof *c);
    c->cls = "fleet-v1";
    c->attests = 5;
    c->mode = "server";
    c->workers = 4;
    c->ref_seconds = 0.3;
    c->timeout_s = 30;
    const char *keys = NULL, *pass_file = NULL;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        exit(argc < 2 ? 2 : 0);
    }
    size_t p = 0;
    while (p < sizeof phase_names / sizeof phase_names[0] && strcmp(argv[1], phase_names[p]) != 0)
        p++;
    if (p == sizeof phase_names / sizeof phase_names[0])
        die(2, "unknown command '%s' (create, enroll, attest, rotate, hold, reference; see --help)", argv[1]);
    *reference_only = p == 5;
    c->phase = (fleet_phase)(p == 5 ? 0 : p);
    int o;
    optind = 2;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 's': c->state = optarg; break;
        case 'S':
            if (c->n_urls == FLEET_MAX_SERVERS)
                die(2, "at most %d --server", FLEET_MAX_SERVERS);
            if (strncmp(optarg, "https://", 8) != 0)
                die(2, "--server must be https://HOST:PORT, not '%s'", optarg);
            c->urls[c->n_urls++] = optarg;
            break;
        case 'E': c->each_server = true; break;
        case 'k': keys = optarg; break;
        case 'c': c->ca = optarg; break;
        case 'C': c->op_cert = optarg; break;
        case 'K': c->op_key = optarg; break;
        case 'p': pass_file = optarg; break;
        case 'n': c->devices = parse_ul("--devices", optarg, 1, 10000000); break;
        case 'l':
            if (strlen(optarg) == 0 || strlen(optarg) > 64 || strpbrk(optarg, "\"\\/ ") != NULL)
                die(2, "--class must be 1..64 characters without quotes, slashes or spaces");
            c->cls = optarg;
            break;
        case 'a':
            if (strlen(optarg) != 64 || strspn(optarg, "0123456789abcdefABCDEF") != 64)
                die(2, "--anchor must be 64 hex digits (SHA-256 of the authority public key), not '%s'",
                    optarg);
            c->anchor_hex = optarg;
            break;
        case 'A': c->attests = parse_ul("--attests", optarg, 1, 1000000); break;
        case 'N': c->new_conn = true; break;
        case 'm':
            if (strcmp(optarg, "server") != 0 && strcmp(optarg, "device") != 0)
                die(2, "--mode must be server or device, not '%s'", optarg);
            c->mode = optarg;
            break;
        case 'w': c->workers = (unsigned)parse_ul("--workers", optarg, 1, FLEET_MAX_WORKERS); break;
        case 'P':
            if (c->n_pids == FLEET_MAX_PIDS)
                die(2, "at most %d --server-pid", FLEET_MAX_PIDS);
            c->pids[c->n_pids] = (pid_t)parse_ul("--server-pid", optarg, 1, 4194304);
            if (fleet_proc_cpu(c->pids[c->n_pids]) < 0)
                die(2, "--server-pid %s: no such process readable in /proc", optarg);
            c->n_pids++;
            break;
        case 'r': {
            char *end;
            c->ref_seconds = strtod(optarg, &end);
            if (*end != '\0' || !(c->ref_seconds >= 0 && c->ref_seconds <= 60))
                die(2, "--ref-seconds must be 0 to 60, not '%s'", optarg);
            break;
        }
        case 't': c->timeout_s = (long)parse_ul("--timeout", optarg, 1, 3600); break;
        case 'j': c->json = true; break;
        case 'q': c->quiet = true; break;
        case 'h': fputs(usage_text, stdout); exit(0);
        default: die(2, "see --help");
        }
    }
    if (optind != argc)
        die(2, "unexpected argument '%s' (see --help)", argv[optind]);
    if (*reference_only)
        return;
    if (keys != NULL) {
        snprintf(ca, sizeof ca, "%s/device-ca.crt.pem", keys);
        snprintf(cert, sizeof cert, "%s/operators/admin.crt.pem", keys);
        snprintf(key, sizeof key, "%s/operators/admin.key.pem", keys);
        if (c->ca == NULL)
            c->ca = ca;
        if (c->op_cert == NULL)
            c->op_cert = cert;
        if (c->op_key == NULL)
            c->op_key = key;
    }
    if (c->state == NULL)
        die(2, "%s needs --state DIR", phase_names[p]);
    if (c->n_urls == 0 || c->ca == NULL)
        die(2, "%s needs --server URL and --ca FILE (or --keys DIR)", phase_names[p]);
    if (access(c->ca, R_OK) != 0)
        die(2, "--ca %s: %s", c->ca, strerror(errno));
    bool admin = c->phase == PH_CREATE || c->phase == PH_ROTATE;
    if (admin && (c->op_cert == NULL || c->op_key == NULL))
        die(2, "%s uses the admin API: give --keys DIR or --operator-cert and --operator-key",
            phase_names[p]);
    if (admin && (access(c->op_cert, R_OK) != 0 || access(c->op_key, R_OK) != 0))
        die(2, "cannot read the operator certificate or key (%s, %s)", c->op_cert, c->op_key);
    if (c->phase == PH_CREATE && (c->devices == 0 || c->anchor_hex == NULL))
        die(2, "create needs --devices N and --anchor HEX");
    if (pass_file != NULL) {
        FILE *f = fopen(pass_file, "r");
        if (f == NULL || fgets(pass, sizeof pass, f) == NULL)
            die(2, "--passphrase-file %s: cannot read it", pass_file);
        fclose(f);
        pass[strcspn(pass, "\r\n")] = '\0';
        c->passphrase = pass;
    } else {
        c->passphrase = getenv("DROT_KEY_PASSPHRASE");
    }
    if (admin && c->passphrase == NULL)
        die(2,
            "%s uses the admin API, whose operator key is encrypted: give --passphrase-file FILE or set "
            "DROT_KEY_PASSPHRASE",
            phase_names[p]);
}

/* ---- state ------------------------------------------------------------------------- */

static void load_state(fleet_run *r)
{
    const fleet_cfg *c = r->cfg;
    char path[FLEET_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/fleet.json", c->state);
    json_error_t je;
    json_t *f = json_load_file(path, 0, &je);
    if (f == NULL)
        die(2, "%s: %s (make the fleet with `drot-fleet create` first)", path, je.text);
    unsigned long count = (unsigned long)json_integer_value(json_object_get(f, "count"));
    json_decref(f);
    snprintf(path, sizeof path, "%s/devices.txt", c->state);
    FILE *d = fopen(path, "r");
    if (d == NULL || count == 0)
        die(2, "%s: %s", path, d == NULL ? strerror(errno) : "the fleet is empty");
    r->ids = calloc(count, sizeof *r->ids);
    if (r->ids == NULL)
        die(2, "out of memory");
    char line[128];
    unsigned long n = 0;
    while (n < count && fgets(line, sizeof line, d) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (strlen(line) != 32 || strspn(line, "0123456789abcdef") != 32)
            die(2, "%s: line %lu is not a device id", path, n + 1);
        memcpy(r->ids[n++], line, 33);
    }
    fclose(d);
    if (n != count)
        die(2, "%s: %lu ids for %lu devices", path, n, count);
    r->count = count;
    r->n = c->devices > 0 && c->devices < count ? c->devices : count;
}

/* The stand-in APM image (as drot-apm provision makes it, docs/apm.md) and
 * its manifest signed by a factory key made for this fleet. */
static void factory(fleet_run *r, uint8_t *image, size_t image_len, uint8_t *manifest, size_t cap)
{
    for (size_t off = 0; off < image_len; off += 32) {
        char label[96];
        snprintf(label, sizeof label, "drot-apm sim image 1.0.0 block %zu", off / 32);
        drot_sha256(label, strlen(label), image + off);
    }
    drot_rng rng = drot_sysrng();
    drot_p256_priv fpriv;
    drot_p256_pub fpub;
    drot_manifest m = {.component = "APM",
                       .component_len = 3,
                       .version = "1.0.0",
                       .version_len = 5,
                       .svn = 1,
                       .size = (uint32_t)image_len};
    drot_sha256(image, image_len, m.digest);
    if (drot_p256_keygen(&rng, &fpriv, &fpub) != DROT_OK ||
        drot_manifest_sign(&fpriv, &fpub, &m, manifest, cap, &r->manifest_len) != DROT_OK)
        die(2, "cannot sign the factory manifest");
    drot_wipe(&fpriv, sizeof fpriv);
    drot_sha256(fpub.q, sizeof fpub.q, r->anchors[0]);
    for (size_t i = 0; i < 32; i++) {
        unsigned v;
        sscanf(r->cfg->anchor_hex + 2 * i, "%2x", &v);
        r->anchors[1][i] = (uint8_t)v;
    }
    if (memcmp(r->anchors[0], r->anchors[1], 32) == 0)
        die(2, "--anchor equals the factory key's anchor");
    r->manifest = manifest;
    r->image = image;
    r->image_len = image_len;
}

/* Registers devices [0, n) in batches at server s. */
static int register_all(fleet_run *r, size_t s, char *err, size_t cap)
{
    const size_t batch = 1000;
    for (unsigned long from = 0; from < r->n; from += batch) {
        json_t *arr = json_array();
        for (unsigned long i = from; i < r->n && i < from + batch; i++) {
            char id[33], pub[131];
            fleet_hex(r->identities[i].device_id, 16, id);
            fleet_hex(r->identities[i].drk_pub, 65, pub);
            json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:i}", "device_id", id, "drk_pub", pub,
                                                 "class", r->cfg->cls, "epoch", (int)r->identities[i].epoch));
        }
        char *body = json_dumps(arr, JSON_COMPACT);
        json_decref(arr);
        long code = fleet_admin(r->cfg, s, "POST", "/v1/admin/devices", body, NULL, err, cap);
        free(body);
        if (code != 201)
            return -1;
    }
    return 0;
}

static void write_state(fleet_run *r)
{
    const fleet_cfg *c = r->cfg;
    char path[FLEET_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/devices.txt", c->state);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        die(2, "cannot write %s: %s", path, strerror(errno));
    for (unsigned long i = 0; i < r->n; i++) {
        char id[33];
        fleet_hex(r->identities[i].device_id, 16, id);
        fprintf(f, "%s\n", id);
    }
    if (fclose(f) != 0)
        die(2, "cannot write %s", path);
    json_t *j = json_pack("{s:s, s:I, s:b}", "class", c->cls, "count", (json_int_t)r->n, "each_server",
                          c->each_server);
    snprintf(path, sizeof path, "%s/fleet.json", c->state);
    if (json_dump_file(j, path, JSON_INDENT(2)) != 0)
        die(2, "cannot write %s", path);
    json_decref(j);
}

/* ---- workers and progress ------------------------------------------------------------------ */

typedef struct worker {
    fleet_run *r;
    unsigned idx;
    pthread_t th;
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    fleet_run *r = w->r;
    fleet_tally *t = &r->tally[w->idx];
    fleet_apm *apm = r->cfg->phase == PH_CREATE ? NULL : calloc(1, sizeof *apm);
    if (r->cfg->phase != PH_CREATE && apm == NULL) {
        fleet_tally_error(t, "out of memory");
        return NULL;
    }
    for (;;) {
        unsigned long i = __atomic_fetch_add(&r->next, 1, __ATOMIC_RELAXED);
        if (i >= r->n)
            break;
        switch (r->cfg->phase) {
        case PH_CREATE:
            __atomic_add_fetch(fleet_dev_create(r, i, t) == 0 ? &r->ops : &r->errors, 1, __ATOMIC_RELAXED);
            break;
        case PH_ENROLL: fleet_dev_enroll(r, i, apm, t); break;
        case PH_ATTEST: fleet_dev_attest(r, i, apm, t); break;
        case PH_ROTATE: fleet_dev_rotate(r, i, apm, t); break;
        case PH_HOLD: fleet_dev_hold(r, i, apm, t); break;
        }
        __atomic_add_fetch(&r->done, 1, __ATOMIC_RELAXED);
    }
    free(apm);
    return NULL;
}

typedef struct progress {
    fleet_run *r;
    unsigned long total;
    volatile int stop;
    pthread_t th;
    /* hold: the servers' peak memory and descriptors while connecting */
    long peak_rss[FLEET_MAX_PIDS], peak_fds[FLEET_MAX_PIDS];
} progress;

static void *progress_main(void *arg)
{
    progress *p = arg;
    const fleet_cfg *c = p->r->cfg;
    uint64_t t0 = fleet_mono_us(), last = t0;
    while (!p->stop) {
        usleep(100000);
        if (c->phase == PH_HOLD)
            for (size_t k = 0; k < c->n_pids; k++) {
                long rss, hwm, fds;
                fleet_proc_mem(c->pids[k], &rss, &hwm, &fds);
                if (rss > p->peak_rss[k])
                    p->peak_rss[k] = rss;
                if (fds > p->peak_fds[k])
                    p->peak_fds[k] = fds;
            }
        uint64_t now = fleet_mono_us();
        if (c->quiet || now - last < 2000000)
            continue;
        last = now;
        unsigned long ops = __atomic_load_n(&p->r->ops, __ATOMIC_RELAXED);
        unsigned long errs = __atomic_load_n(&p->r->errors, __ATOMIC_RELAXED);
        fprintf(stderr, "drot-fleet: %s: %lu/%lu done, %lu error%s, %.0f/s\n", phase_names[c->phase],
                ops + errs, p->total, errs, errs == 1 ? "" : "s", (double)ops / ((double)(now - t0) / 1e6));
    }
    return NULL;
}

/* ---- summary ------------------------------------------------------------------------------- */

static double ref_value(json_t *before, json_t *after, const char *k)
{
    double a = json_real_value(json_object_get(before, k)), b = json_real_value(json_object_get(after, k));
    return a > 0 && b > 0 ? (a + b) / 2 : (a > 0 ? a : b);
}

static json_t *summary(fleet_run *r, double wall, json_t *ref_before, json_t *ref_after, const double *cpu0,
                       const double *cpu1, const long (*mem0)[3], const long (*mem1)[3], const progress *pg,
                       unsigned long held)
{
    const fleet_cfg *c = r->cfg;
    fleet_tally all;
    memset(&all, 0, sizeof all);
    for (unsigned w = 0; w < c->workers; w++) {
        fleet_tally *t = &r->tally[w];
        all.ok += t->ok;
        all.errors += t->errors;
        all.pass += t->pass;
        all.warn += t->warn;
        all.fail += t->fail;
        all.jobs_seen += t->jobs_seen;
        all.rotations += t->rotations;
        if (all.first_error[0] == '\0')
            memcpy(all.first_error, t->first_error, sizeof all.first_error);
        for (size_t s = 0; s < FLEET_MAX_SERVERS; s++)
            fleet_lat_merge(&all.lat[s], &t->lat[s]);
    }
    fleet_lat merged = {NULL, 0, 0};
    json_t *by_server = json_array();
    size_t n_lat = c->phase == PH_CREATE ? 1 : c->n_urls;
    for (size_t s = 0; s < n_lat; s++) {
        fleet_lat_merge(&merged, &all.lat[s]);
        json_t *one = fleet_lat_json(&all.lat[s]);
        if (c->phase != PH_CREATE)
            json_object_set_new(one, "server", json_string(c->urls[s]));
        json_array_append_new(by_server, one);
    }
    unsigned long ops = __atomic_load_n(&r->ops, __ATOMIC_RELAXED);
    /* What the server CPU is divided by. */
    unsigned long per = c->phase == PH_ROTATE ? all.rotations : ops;
    json_t *j = json_pack(
        "{s:s, s:I, s:I, s:i, s:f, s:I, s:I, s:I, s:{s:I, s:I, s:I}}", "phase", phase_names[c->phase],
        "devices", (json_int_t)r->n, "devices_ok", (json_int_t)all.ok, "workers", (int)c->workers, "wall_s",
        wall, "exchanges", (json_int_t)ops, "errors", (json_int_t)all.errors, "per_op_count", (json_int_t)per,
        "verdicts", "PASS", (json_int_t)all.pass, "WARN", (json_int_t)all.warn, "FAIL", (json_int_t)all.fail);
    json_object_set_new(j, "throughput_per_s", json_real(wall > 0 ? (double)ops / wall : 0));
    if (c->phase == PH_ATTEST) {
        json_object_set_new(j, "attests_per_device", json_integer((json_int_t)c->attests));
        json_object_set_new(j, "new_connections", json_boolean(c->new_conn));
        json_object_set_new(j, "jobs_seen", json_integer((json_int_t)all.jobs_seen));
    }
    if (c->phase == PH_ROTATE) {
        json_object_set_new(j, "mode", json_string(c->mode));
        json_object_set_new(j, "rotations", json_integer((json_int_t)all.rotations));
        json_object_set_new(j, "rotation_latency", fleet_lat_json(&all.lat[FLEET_MAX_SERVERS - 1]));
    }
    if (c->phase == PH_HOLD)
        json_object_set_new(j, "held", json_integer((json_int_t)held));
    json_object_set_new(j, "latency", fleet_lat_json(&merged));
    json_object_set_new(j, "latency_by_server", by_server);
    json_t *servers = json_array();
    double cpu_sum = 0;
    for (size_t k = 0; k < c->n_pids; k++) {
        double d = cpu1[k] >= 0 && cpu0[k] >= 0 ? cpu1[k] - cpu0[k] : -1;
        cpu_sum += d > 0 ? d : 0;
        json_t *s = json_pack("{s:i, s:f, s:I, s:I, s:I, s:I}", "pid", (int)c->pids[k], "cpu_s", d,
                              "rss_kb_before", (json_int_t)mem0[k][0], "rss_kb_after", (json_int_t)mem1[k][0],
                              "hwm_kb", (json_int_t)mem1[k][1], "fds_before", (json_int_t)mem0[k][2]);
        json_object_set_new(s, "fds_after", json_integer(mem1[k][2]));
        if (pg != NULL) {
            json_object_set_new(s, "rss_kb_peak", json_integer(pg->peak_rss[k]));
            json_object_set_new(s, "fds_peak", json_integer(pg->peak_fds[k]));
        }
        json_array_append_new(servers, s);
    }
    json_object_set_new(j, "servers", servers);
    if (c->n_pids > 0) {
        json_object_set_new(j, "server_cpu_s", json_real(cpu_sum));
        json_object_set_new(j, "server_cpu_per_op_us", json_real(per > 0 ? cpu_sum / (double)per * 1e6 : 0));
    }
    if (ref_before != NULL || ref_after != NULL) {
        json_t *ref = json_object();
        const char *keys[] = {"ecdsa_p256_verify_us",  "ecdsa_p256_sign_us", "p256_keygen_us",
                              "ecdh_p256_us",          "x25519_keygen_us",   "x25519_derive_us",
                              "evp_verify_prebuilt_us"};
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            json_object_set_new(ref, keys[k], json_real(ref_value(ref_before, ref_after, keys[k])));
        json_object_set(ref, "before", ref_before != NULL ? ref_before : json_null());
        json_object_set(ref, "after", ref_after != NULL ? ref_after : json_null());
        double v = ref_value(ref_before, ref_after, "ecdsa_p256_verify_us");
        if (c->n_pids > 0 && per > 0 && v > 0)
            json_object_set_new(j, "server_cpu_per_op_in_verifies",
                                json_real(cpu_sum / (double)per * 1e6 / v));
        json_object_set_new(j, "reference", ref);
    }
    json_object_set_new(j, "first_error", json_string(all.first_error));
    fleet_lat_free(&merged);
    for (size_t s = 0; s < FLEET_MAX_SERVERS; s++)
        fleet_lat_free(&all.lat[s]);
    return j;
}

static void print_text(json_t *j)
{
    json_t *l = json_object_get(j, "latency");
    printf("%s: %lld device(s), %lld ok, %lld error(s), %lld exchange(s) in %.2f s (%.1f/s)\n",
           json_string_value(json_object_get(j, "phase")), json_integer_value(json_object_get(j, "devices")),
           json_integer_value(json_object_get(j, "devices_ok")),
           json_integer_value(json_object_get(j, "errors")),
           json_integer_value(json_object_get(j, "exchanges")), json_real_value(json_object_get(j, "wall_s")),
           json_real_value(json_object_get(j, "throughput_per_s")));
    json_t *v = json_object_get(j, "verdicts");
    printf("verdicts: PASS %lld, WARN %lld, FAIL %lld\n", json_integer_value(json_object_get(v, "PASS")),
           json_integer_value(json_object_get(v, "WARN")), json_integer_value(json_object_get(v, "FAIL")));
    if (json_integer_value(json_object_get(l, "count")) > 0)
        printf("latency ms: p50 %.2f, p90 %.2f, p99 %.2f, max %.2f\n",
               json_real_value(json_object_get(l, "p50_ms")), json_real_value(json_object_get(l, "p90_ms")),
               json_real_value(json_object_get(l, "p99_ms")), json_real_value(json_object_get(l, "max_ms")));
    if (json_object_get(j, "server_cpu_s") != NULL)
        printf("server CPU: %.3f s, %.1f us per operation",
               json_real_value(json_object_get(j, "server_cpu_s")),
               json_real_value(json_object_get(j, "server_cpu_per_op_us")));
    if (json_object_get(j, "server_cpu_per_op_in_verifies") != NULL)
        printf(" = %.2f raw ECDSA P-256 verifies",
               json_real_value(json_object_get(j, "server_cpu_per_op_in_verifies")));
    if (json_object_get(j, "server_cpu_s") != NULL)
        printf("\n");
    const char *e = json_string_value(json_object_get(j, "first_error"));
    if (e != NULL && e[0] != '\0')
        printf("first error: %s\n", e);
}

/* ---- main ------------------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    fleet_cfg c;
    bool reference_only = false;
    parse(argc, argv, &c, &reference_only);
    if (reference_only) {
        json_t *ref = fleet_reference(c.ref_seconds > 0 ? c.ref_seconds : 0.3);
        if (ref == NULL)
            die(1, "a raw operation failed");
        char *s = json_dumps(ref, JSON_COMPACT | JSON_REAL_PRECISION(6));
        printf("%s\n", s);
        free(s);
        json_decref(ref);
        return 0;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        die(2, "libcurl failed to initialise");
    static fleet_run r;
    r.cfg = &c;
    pthread_mutex_init(&r.lock, NULL);
    static uint8_t image[16384], manifest[DROT_MANIFEST_SIGNED_MAX];
    if (c.phase == PH_CREATE) {
        char path[FLEET_PATH_MAX + 8];
        if (mkdir(c.state, 0700) != 0)
            die(2, "--state %s: %s (create makes a new directory)", c.state, strerror(errno));
        snprintf(path, sizeof path, "%s/d", c.state);
        if (mkdir(path, 0700) != 0)
            die(2, "cannot create %s: %s", path, strerror(errno));
        r.n = r.count = c.devices;
        r.identities = calloc(r.n, sizeof *r.identities);
        if (r.identities == NULL)
            die(2, "out of memory");
        factory(&r, image, sizeof image, manifest, sizeof manifest);
    } else {
        load_state(&r);
    }
    if (c.phase == PH_HOLD) {
        r.held = calloc(r.n, sizeof *r.held);
        r.held_pem = calloc(2 * r.n, sizeof *r.held_pem);
        if (r.held == NULL || r.held_pem == NULL)
            die(2, "out of memory");
    }
    if (c.phase == PH_ROTATE) {
        char err[1024], body[512];
        snprintf(body, sizeof body,
                 "{\"class\": \"%s\", \"mode\": \"%s\", \"max_parallel\": %lu, \"fail_threshold\": %lu, "
                 "\"max_attempts\": 3}",
                 c.cls, c.mode, r.n, r.n);
        json_t *ans = NULL;
        if (fleet_admin(&c, 0, "POST", "/v1/admin/campaigns", body, &ans, err, sizeof err) != 201)
            die(1, "rotate: creating the campaign: %s", err);
        long long jobs = json_integer_value(json_object_get(ans, "jobs_created"));
        json_decref(ans);
        if (!c.quiet)
            fprintf(stderr, "drot-fleet: rotate: campaign over class %s, %lld job(s)\n", c.cls, jobs);
    }

    json_t *ref_before = c.ref_seconds > 0 ? fleet_reference(c.ref_seconds) : NULL;
    double cpu0[FLEET_MAX_PIDS], cpu1[FLEET_MAX_PIDS];
    long mem0[FLEET_MAX_PIDS][3], mem1[FLEET_MAX_PIDS][3];
    for (size_t k = 0; k < c.n_pids; k++) {
        fleet_proc_mem(c.pids[k], &mem0[k][0], &mem0[k][1], &mem0[k][2]);
        cpu0[k] = fleet_proc_cpu(c.pids[k]);
    }
    progress pg;
    memset(&pg, 0, sizeof pg);
    pg.r = &r;
    pg.total = c.phase == PH_ATTEST ? r.n * c.attests
                                    : (c.phase == PH_ENROLL && c.each_server ? r.n * c.n_urls : r.n);
    pthread_create(&pg.th, NULL, progress_main, &pg);
    uint64_t t0 = fleet_mono_us();
    worker *ws = calloc(c.workers, sizeof *ws);
    if (ws == NULL)
        die(2, "out of memory");
    for (unsigned w = 0; w < c.workers; w++) {
        ws[w].r = &r;
        ws[w].idx = w;
        if (pthread_create(&ws[w].th, NULL, worker_main, &ws[w]) != 0)
            die(2, "cannot start worker %u", w);
    }
    for (unsigned w = 0; w < c.workers; w++)
        pthread_join(ws[w].th, NULL);
    double wall = (double)(fleet_mono_us() - t0) / 1e6;
    /* hold: every connection is still open here. */
    unsigned long held = 0;
    for (size_t k = 0; k < c.n_pids; k++) {
        cpu1[k] = fleet_proc_cpu(c.pids[k]);
        fleet_proc_mem(c.pids[k], &mem1[k][0], &mem1[k][1], &mem1[k][2]);
        if (mem1[k][0] > pg.peak_rss[k])
            pg.peak_rss[k] = mem1[k][0];
        if (mem1[k][2] > pg.peak_fds[k])
            pg.peak_fds[k] = mem1[k][2];
    }
    pg.stop = 1;
    pthread_join(pg.th, NULL);
    if (c.phase == PH_HOLD)
        for (unsigned long i = 0; i < r.n; i++) {
            held += r.held[i] != NULL;
            dh_server_close(r.held[i]);
            free(r.held_pem[2 * i]);
            if (r.held_pem[2 * i + 1] != NULL)
                dh_tls_free(r.held_pem[2 * i + 1], strlen(r.held_pem[2 * i + 1]));
        }
    json_t *ref_after = c.ref_seconds > 0 ? fleet_reference(c.ref_seconds) : NULL;

    int rc = 0;
    if (c.phase == PH_CREATE) {
        char err[1024] = "";
        unsigned long bad = __atomic_load_n(&r.errors, __ATOMIC_RELAXED);
        if (bad > 0)
            die(1, "create: %lu device(s) could not be manufactured: %s", bad, r.tally[0].first_error);
        size_t last = c.each_server ? c.n_urls : 1;
        for (size_t s = 0; s < last; s++)
            if (register_all(&r, s, err, sizeof err) != 0)
                die(1, "create: registering at %s: %s", c.urls[s], err);
        write_state(&r);
    }
    json_t *j = summary(&r, wall, ref_before, ref_after, cpu0, cpu1, (const long(*)[3])mem0,
                        (const long(*)[3])mem1, c.phase == PH_HOLD ? &pg : NULL, held);
    if (json_integer_value(json_object_get(j, "errors")) > 0)
        rc = 1;
    if (c.json) {
        char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6));
        printf("%s\n", s);
        free(s);
    } else {
        print_text(j);
    }
    json_decref(j);
    json_decref(ref_before);
    json_decref(ref_after);
    for (unsigned w = 0; w < c.workers; w++)
        for (size_t s = 0; s < FLEET_MAX_SERVERS; s++)
            fleet_lat_free(&r.tally[w].lat[s]);
    free(ws);
    free(r.ids);
    free(r.identities);
    free(r.held);
    free(r.held_pem);
    curl_global_cleanup();
    return rc;
}
