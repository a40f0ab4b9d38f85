/*
 * drot-agent — the host processor's command-line side of the APM
 * (docs/host.md "drot-agent").
 *
 *   drot-agent [--socket PATH] [--link-key FILE] [--timeout MS] [--json]
 * COMMAND [options]
 *
 *   info          device id, epoch, lifecycle, instance id, boot status,
 *                 tamper state and count, measurements
 *   attest        a token for a nonce (or challenge + TLS exporter): hex on
 *                 stdout or raw bytes to a file
 *   measure       hash a host firmware image and extend it into the APM
 *                 (--manifest: the APM verifies it against its manifest first)
 *   seal/unseal   secure storage: blobs only this device's APM opens
 *   tamper-log    the APM's tamper events
 *   fw            firmware install: install, verify, activate, confirm,
 *                 status (fw.c)
 *   revocations   hand a signed revocation list to the APM; its stored version
 *
 * Every command checks all of its input (hex, lengths, profile, files, the
 * link key's permissions) before it talks to the APM, so bad input is
 * refused with exit status 2 and changes nothing. Errors are one line on
 * stderr: "drot-agent: <what went wrong>: <why / what to do>".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent.h"
#include "drot/host.h"
#include "drot_crypto.h"

/* see agent.h */
void msg(const char *fmt, ...)
{
    va_list ap;
    fputs("drot-agent: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---- argument parsing
 * -------------------------------------------------------- */

/* Handles an option every command accepts. 0 handled, 1 not a global
 * option, EXIT_USAGE on a bad value. */
int global_option(agent *a, int c, const char *arg)
{
    switch (c) {
    case OPT_SOCKET: a->socket = arg; return 0;
    case OPT_LINK_KEY: a->link_key_path = arg; return 0;
    case OPT_JSON: a->json = true; return 0;
    case OPT_TIMEOUT: {
        char *end;
        errno = 0;
        long v = strtol(arg, &end, 10);
        if (errno != 0 || end == arg || *end != '\0' || v < 1 || v > 600000) {
            msg("bad --timeout '%s': give milliseconds, 1 to 600000", arg);
            return EXIT_USAGE;
        }
        a->timeout_ms = (int)v;
        return 0;
    }
    default: return 1;
    }
}

/* The message for getopt's '?' and ':' (opterr is 0: we print our own line). */
int bad_option(const agent *a, int c, char **argv)
{
    const char *what = argv[optind - 1];
    const char *cmd = a->cmd != NULL ? a->cmd : "";
    const char *sp = a->cmd != NULL ? " " : "";
    if (c == ':')
        msg("%s%soption '%s' needs a value: see drot-agent %s%s--help", cmd, a->cmd ? ": " : "", what, cmd,
            sp);
    else
        msg("%s%sunknown option '%s': see drot-agent %s%s--help", cmd, a->cmd ? ": " : "", what, cmd, sp);
    return EXIT_USAGE;
}

static int hex_nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes hex into out[0..cap); *n = bytes. -1 on a non-hex character or
 * an odd length, -2 when longer than cap. */
static int hex_decode(const char *s, uint8_t *out, size_t cap, size_t *n)
{
    size_t len = strlen(s);
    if (len % 2 != 0)
        return -1;
    for (size_t i = 0; i < len; i++)
        if (hex_nibble(s[i]) < 0)
            return -1;
    if (len / 2 > cap)
        return -2;
    for (size_t i = 0; i < len / 2; i++)
        out[i] = (uint8_t)(hex_nibble(s[2 * i]) << 4 | hex_nibble(s[2 * i + 1]));
    *n = len / 2;
    return 0;
}

/* Exactly `want` bytes of hex (one of up to three lengths when want2/want3
 * are non-zero). */
int hex_arg(const char *opt, const char *s, uint8_t *out, size_t cap, size_t *n, size_t want, size_t want2,
            size_t want3)
{
    size_t got = 0;
    int r = hex_decode(s, out, cap, &got);
    if (r == -1) {
        msg("bad %s: '%.80s' is not hex (an even number of 0-9 a-f digits)", opt, s);
        return EXIT_USAGE;
    }
    size_t bytes = strlen(s) / 2;
    if (r == -2 || (bytes != want && bytes != want2 && bytes != want3) || bytes == 0) {
        if (want2 != 0)
            msg("bad %s: %zu bytes; it must be %zu, %zu or %zu bytes (%zu, %zu or "
                "%zu hex digits)",
                opt, bytes, want, want2, want3, 2 * want, 2 * want2, 2 * want3);
        else
            msg("bad %s: %zu bytes; it must be %zu bytes (%zu hex digits)", opt, bytes, want, 2 * want);
        return EXIT_USAGE;
    }
    *n = got;
    return 0;
}

static bool label_ok(const char *label)
{
    size_t n = strlen(label);
    if (n == 0 || n > 64 || strcmp(label, ".") == 0 || strcmp(label, "..") == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = label[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* Reads all of fd, at most max bytes, into a new buffer. 0, -1 I/O, -2 too
 * large. */
int read_bounded(int fd, size_t max, uint8_t **out, size_t *len)
{
    uint8_t *buf = malloc(max + 1);
    size_t got = 0;
    if (buf == NULL)
        return -1;
    for (;;) {
        ssize_t r = read(fd, buf + got, max + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            drot_wipe(buf, max + 1);
            free(buf);
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
        if (got > max) {
            drot_wipe(buf, max + 1);
            free(buf);
            return -2;
        }
    }
    *out = buf;
    *len = got;
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Writes p to path with exactly `mode`, replacing a regular file if present.
 * O_NOFOLLOW refuses a symbolic link planted at path, and fchmod sets the
 * mode on an existing file too (open's mode applies only to new files): the
 * plaintext of an unseal must never land in a looser file. 0 or errno. */
static int write_file(const char *path, const uint8_t *p, size_t n, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return errno;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || fchmod(fd, mode) != 0 || ftruncate(fd, 0) != 0) {
        int e = errno != 0 ? errno : EINVAL;
        close(fd);
        return e;
    }
    int e = 0;
    if (write_all(fd, p, n) != 0)
        e = errno != 0 ? errno : EIO;
    if (close(fd) != 0 && e == 0)
        e = errno;
    return e;
}

void hex_print(FILE *f, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", p[i]);
}

json_t *hex_json(const uint8_t *p, size_t n)
{
    char *s = malloc(2 * n + 1);
    if (s == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        snprintf(s + 2 * i, 3, "%02x", p[i]);
    json_t *j = json_string(s);
    free(s);
    return j;
}

/* Text from the APM for a terminal: control characters shown as '?'. */
void text_print(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        putchar((unsigned char)p[i] < 0x20 || p[i] == 0x7f ? '?' : p[i]);
}

/* ---- talking to the APM
 * ------------------------------------------------------ */

/* Reads the link key (32 raw bytes, mode 0600 or stricter). */
static int load_link_key(const char *path, uint8_t key[32])
{
    if (path == NULL) {
        msg("no link key: give --link-key FILE (the host's copy of the APM link "
            "key, e.g. STATE/host-link.key)");
        return EXIT_USAGE;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        msg("cannot open link key '%s': %s", path, strerror(errno));
        return EXIT_USAGE;
    }
    struct stat sb;
    int rc = EXIT_USAGE;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        msg("link key '%s' is not a regular file", path);
    } else if ((sb.st_mode & 077) != 0) {
        msg("link key '%s' is readable or writable by group or others (mode %04o): "
            "chmod 600 %s",
            path, (unsigned)(sb.st_mode & 07777), path);
    } else if (sb.st_size != 32) {
        msg("link key '%s' is %lld bytes: it must be exactly 32 raw bytes", path, (long long)sb.st_size);
    } else if (read(fd, key, 32) != 32) {
        msg("cannot read link key '%s': %s", path, strerror(errno));
    } else {
        rc = 0;
    }
    close(fd);
    return rc;
}

/* Checks the socket path and the link key, and opens the driver (the first
 * request connects). */
int agent_open(agent *a)
{
    if (a->socket == NULL || a->socket[0] == '\0') {
        msg("no APM socket: give --socket PATH or set DROT_APM_SOCKET");
        return EXIT_USAGE;
    }
    if (strlen(a->socket) >= sizeof a->transport.path) {
        msg("socket path '%s' is too long (at most %zu bytes)", a->socket, sizeof a->transport.path - 1);
        return EXIT_USAGE;
    }
    uint8_t key[32];
    int rc = load_link_key(a->link_key_path, key);
    if (rc != 0)
        return rc;
    dh_driver_options opt = {.timeout_ms = a->timeout_ms, .retries = 0};
    dh_status st = dh_unix_transport_init(&a->transport, a->socket);
    if (st == DH_OK)
        st = dh_driver_open(&a->driver, &dh_unix_transport_ops, &a->transport, key, &opt);
    drot_wipe(key, sizeof key);
    if (st != DH_OK) {
        msg("cannot set up the APM driver: %s", dh_status_str(st));
        return EXIT_FAILED;
    }
    return 0;
}

/* One line for a failed request; returns the exit status. */
int agent_fail(const agent *a, const char *what, dh_status st)
{
    const char *why = a->driver != NULL ? dh_driver_last_error(a->driver) : "";
    if (why == NULL || why[0] == '\0')
        why = dh_status_str(st);
    if (st == DH_E_CONNECT || st == DH_E_TIMEOUT) {
        static const char prefix[] = "cannot reach the APM: ";
        if (strncmp(why, prefix, sizeof prefix - 1) == 0)
            why += sizeof prefix - 1;
        msg("%s: cannot reach the APM at '%s': %s (is drot-apm running? check "
            "--socket or DROT_APM_SOCKET)",
            what, a->socket, why);
        return EXIT_UNREACHABLE;
    }
    if (st == DH_E_AUTH) {
        msg("%s: the APM refused our link key: %s (is --link-key this device's "
            "host-link.key?)",
            what, why);
        return EXIT_FAILED;
    }
    msg("%s: %s", what, why);
    return EXIT_FAILED;
}

/* ---- info
 * -------------------------------------------------------------------- */

static const char *lifecycle_name(uint32_t lc)
{
    static const char *const names[] = {"manufacturing", "provisioned", "deployed", "tampered",
                                        "decommissioned"};
    return lc < sizeof names / sizeof names[0] ? names[lc] : "unknown";
}

static const char *tamper_kind_name(uint32_t k)
{
    switch (k) {
    case 1: return "voltage";
    case 2: return "temperature";
    case 3: return "intrusion";
    default: return "unknown";
    }
}

static void tamper_bits_print(uint64_t bits)
{
    static const char *const names[] = {"voltage", "temperature", "intrusion", "locked"};
    printf("0x%llx", (unsigned long long)bits);
    const char *sep = " (";
    for (unsigned i = 0; i < 4; i++) {
        if (bits & (1ull << i)) {
            printf("%s%s", sep, names[i]);
            sep = ", ";
        }
    }
    printf("%s\n", bits != 0 ? ")" : " (none)");
}

static json_t *measurement_json(const drot_link_measurement *m, size_t index)
{
    json_t *o = json_object();
    json_object_set_new(o, "index", json_integer((json_int_t)index));
    json_object_set_new(o, "type", json_stringn(m->type, m->type_len));
    json_object_set_new(o, "version", json_stringn(m->version, m->version_len));
    json_object_set_new(o, "digest", hex_json(m->digest, sizeof m->digest));
    json_object_set_new(o, "signer", hex_json(m->signer, sizeof m->signer));
    return o;
}

static void info_json(const drot_link_info *i)
{
    json_t *o = json_object();
    json_object_set_new(o, "device_id", hex_json(i->device_id, sizeof i->device_id));
    json_object_set_new(o, "epoch", json_integer((json_int_t)i->epoch));
    json_object_set_new(o, "lifecycle", json_string(lifecycle_name(i->lifecycle)));
    json_object_set_new(o, "lifecycle_value", json_integer(i->lifecycle));
    json_object_set_new(o, "instance_id", hex_json(i->instance_id, sizeof i->instance_id));
    json_object_set_new(o, "drk_pub", hex_json(i->drk_pub, sizeof i->drk_pub));
    json_object_set_new(o, "boot_status", json_integer(i->boot_status));
    json_object_set_new(o, "apm_version", json_stringn(i->apm_version, i->apm_version_len));
    json_object_set_new(o, "tamper_state", json_integer((json_int_t)i->tamper_state));
    json_object_set_new(o, "tamper_count", json_integer((json_int_t)i->tamper_count));
    json_t *svns = json_array();
    for (size_t k = 0; k < i->num_svns && k < DROT_LINK_MAX_SVNS; k++) {
        json_t *s = json_object();
        json_object_set_new(s, "component", json_integer(i->svns[k].component));
        json_object_set_new(s, "svn", json_integer((json_int_t)i->svns[k].svn));
        json_array_append_new(svns, s);
    }
    json_object_set_new(o, "svns", svns);
    json_t *ms = json_array();
    for (size_t k = 0; k < i->num_measurements && k < DROT_LINK_MAX_MEASUREMENTS; k++)
        json_array_append_new(ms, measurement_json(&i->measurements[k], k));
    json_object_set_new(o, "measurements", ms);
    json_object_set_new(o, "revocation_version", json_integer((json_int_t)i->revocation_version));
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s != NULL)
        puts(s);
    free(s);
    json_decref(o);
}

static void info_table(const drot_link_info *i)
{
    printf("device id      ");
    hex_print(stdout, i->device_id, sizeof i->device_id);
    printf("\nepoch          %llu\n", (unsigned long long)i->epoch);
    printf("lifecycle      %s (%u)\n", lifecycle_name(i->lifecycle), (unsigned)i->lifecycle);
    printf("instance id    ");
    hex_print(stdout, i->instance_id, sizeof i->instance_id);
    printf("\nboot status    %s (%d)\n", i->boot_status == 0 ? "image verified" : "REFUSED",
           (int)i->boot_status);
    printf("apm version    ");
    text_print(i->apm_version, i->apm_version_len);
    printf("\ntamper state   ");
    tamper_bits_print(i->tamper_state);
    printf("tamper count   %llu\n", (unsigned long long)i->tamper_count);
    printf("revocations    list version %llu%s\n", (unsigned long long)i->revocation_version,
           i->revocation_version == 0 ? " (none stored)" : "");
    for (size_t k = 0; k < i->num_svns && k < DROT_LINK_MAX_SVNS; k++)
        printf("svn            component %u: %llu\n", (unsigned)i->svns[k].component,
               (unsigned long long)i->svns[k].svn);
    printf("measurements   %zu\n", i->num_measurements);
    for (size_t k = 0; k < i->num_measurements && k < DROT_LINK_MAX_MEASUREMENTS; k++) {
        const drot_link_measurement *m = &i->measurements[k];
        printf("  [%zu] ", k);
        text_print(m->type, m->type_len);
        printf(" ");
        text_print(m->version, m->version_len);
        printf("\n      sha-256 ");
        hex_print(stdout, m->digest, sizeof m->digest);
        printf("\n      signer  ");
        hex_print(stdout, m->signer, sizeof m->signer);
        printf("\n");
    }
}

static int cmd_info(agent *a, int argc, char **argv)
{
    static const struct option opts[] = {GLOBAL_OPTIONS, {0, 0, 0, 0}};
    int c, rc;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        if (c == OPT_HELP) {
            printf("usage: drot-agent info [--json]\n"
                   "Shows what the APM says about itself: device id, epoch (root key "
                   "generation),\n"
                   "lifecycle, instance id, boot status, APM version, tamper state "
                   "and count, SVNs\n"
                   "and the measurement table.\n"
                   "  --json   one JSON object instead of the table\n" GLOBAL_HELP EXIT_CODES_HELP);
            return EXIT_OK;
        }
        if (c == '?' || c == ':')
            return bad_option(a, c, argv);
        if ((rc = global_option(a, c, optarg)) != 0)
            return rc == 1 ? bad_option(a, '?', argv) : rc;
    }
    if (optind != argc) {
        msg("info: unexpected argument '%s': see drot-agent info --help", argv[optind]);
        return EXIT_USAGE;
    }
    if ((rc = agent_open(a)) != 0)
        return rc;
    drot_link_info i;
    dh_status st = dh_get_info(a->driver, &i);
    if (st != DH_OK)
        return agent_fail(a, "info", st);
    if (a->json)
        info_json(&i);
    else
        info_table(&i);
    return EXIT_OK;
}

/* ---- attest
 * ------------------------------------------------------------------ */

static int cmd_attest(agent *a, int argc, char **argv)
{
    enum { O_NONCE = 1, O_CHALLENGE, O_EXPORTER, O_PROFILE, O_OUT };
    static const struct option opts[] = {GLOBAL_OPTIONS,
                                         {"nonce", required_argument, 0, O_NONCE},
                                         {"challenge", required_argument, 0, O_CHALLENGE},
                                         {"exporter", required_argument, 0, O_EXPORTER},
                                         {"profile", required_argument, 0, O_PROFILE},
                                         {"out", required_argument, 0, O_OUT},
                                         {0, 0, 0, 0}};
    const char *nonce_hex = NULL, *chal_hex = NULL, *exp_hex = NULL, *profile = "drot", *out = NULL;
    int c, rc;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case OPT_HELP:
            printf("usage: drot-agent attest (--nonce HEX | --challenge HEX "
                   "--exporter HEX)\n"
                   "                         [--profile psa|drot] [--out FILE]\n"
                   "Asks the APM for an attestation token and prints its bytes, "
                   "unchanged, as hex on\n"
                   "stdout (or writes the raw bytes to FILE).\n"
                   "  --nonce HEX        the token nonce: 32, 48 or 64 bytes\n"
                   "  --challenge HEX    the server's 32-byte challenge; with "
                   "--exporter, the nonce is\n"
                   "  --exporter HEX     SHA-256(challenge || exporter), the TLS 1.3 "
                   "exporter value\n"
                   "                     (EXPORTER-Channel-Binding, 32 bytes) of the "
                   "carrying connection\n"
                   "  --profile P        psa (RFC 9783 PSA token) or drot (default: "
                   "drot)\n"
                   "  --out FILE         write the raw token bytes to FILE instead "
                   "of hex to stdout\n" GLOBAL_HELP EXIT_CODES_HELP);
            return EXIT_OK;
        case O_NONCE: nonce_hex = optarg; break;
        case O_CHALLENGE: chal_hex = optarg; break;
        case O_EXPORTER: exp_hex = optarg; break;
        case O_PROFILE: profile = optarg; break;
        case O_OUT: out = optarg; break;
        case '?':
        case ':': return bad_option(a, c, argv);
        default:
            if ((rc = global_option(a, c, optarg)) != 0)
                return rc == 1 ? bad_option(a, '?', argv) : rc;
        }
    }
    if (optind != argc) {
        msg("attest: unexpected argument '%s': see drot-agent attest --help", argv[optind]);
        return EXIT_USAGE;
    }
    uint32_t prof;
    if (strcmp(profile, "psa") == 0) {
        prof = DROT_LINK_PROFILE_PSA;
    } else if (strcmp(profile, "drot") == 0) {
        prof = DROT_LINK_PROFILE_DROT;
    } else {
        msg("attest: unknown --profile '%.40s': use psa or drot", profile);
        return EXIT_USAGE;
    }
    uint8_t nonce[DROT_LINK_TOKEN_NONCE_MAX], chal[32], exp[32];
    size_t nonce_len = 0, n;
    if (nonce_hex != NULL && (chal_hex != NULL || exp_hex != NULL)) {
        msg("attest: give either --nonce or --challenge with --exporter, not both");
        return EXIT_USAGE;
    }
    if (nonce_hex != NULL) {
        if ((rc = hex_arg("--nonce", nonce_hex, nonce, sizeof nonce, &nonce_len, 32, 48, 64)) != 0)
            return rc;
    } else if (chal_hex != NULL && exp_hex != NULL) {
        if ((rc = hex_arg("--challenge", chal_hex, chal, sizeof chal, &n, 32, 0, 0)) != 0 ||
            (rc = hex_arg("--exporter", exp_hex, exp, sizeof exp, &n, 32, 0, 0)) != 0)
            return rc;
    } else {
        msg("attest: no nonce: give --nonce HEX, or --challenge HEX and --exporter "
            "HEX");
        return EXIT_USAGE;
    }
    if ((rc = agent_open(a)) != 0)
        return rc;
    static uint8_t token[DROT_LINK_MAX_TOKEN];
    size_t token_len = 0;
    dh_status st = nonce_hex != NULL
                       ? dh_get_token(a->driver, nonce, nonce_len, prof, token, sizeof token, &token_len)
                       : dh_attest(a->driver, chal, exp, prof, token, sizeof token, &token_len);
    if (st != DH_OK)
        return agent_fail(a, "attest", st);
    if (out != NULL) {
        int e = write_file(out, token, token_len, 0644);
        if (e != 0) {
            msg("attest: cannot write the token to '%s': %s", out, strerror(e));
            return EXIT_FAILED;
        }
    } else {
        hex_print(stdout, token, token_len);
        putchar('\n');
    }
    return EXIT_OK;
}

/* ---- measure
 * ----------------------------------------------------------------- */

/* measure --manifest: the APM verifies FILE against the manifest (verify
 * mode), then the verified image is measured (dh_measure_verified). */
static int measure_verified(agent *a, const char *manifest_path, bool extra, int argc, char **argv)
{
    if (extra || optind + 1 != argc) {
        msg("measure: --manifest takes exactly one FILE, and the type, version and signer come from the "
            "verified manifest: drop --type/--version/--signer (see drot-agent measure --help)");
        return EXIT_USAGE;
    }
    const char *path = argv[optind];
    int fd = open(manifest_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        msg("measure: cannot open manifest '%s': %s", manifest_path, strerror(errno));
        return EXIT_USAGE;
    }
    uint8_t *manifest = NULL;
    size_t mlen = 0;
    int r = read_bounded(fd, DROT_LINK_FW_MANIFEST_MAX, &manifest, &mlen);
    close(fd);
    if (r != 0 || mlen == 0) {
        if (r == 0)
            free(manifest);
        msg("measure: manifest '%s' %s", manifest_path,
            r == -2   ? "is larger than 512 bytes: not a manifest"
            : r == -1 ? "cannot be read"
                      : "is empty");
        return EXIT_USAGE;
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !(S_ISREG(sb.st_mode) || S_ISBLK(sb.st_mode))) {
        free(manifest);
        msg("measure: '%s' is not a file or block device: nothing to measure", path);
        return EXIT_USAGE;
    }
    int rc = agent_open(a);
    if (rc != 0) {
        free(manifest);
        return rc;
    }
    uint32_t index = 0;
    drot_link_fw_image img;
    dh_status st = dh_measure_verified(a->driver, manifest, mlen, path, &img, &index);
    free(manifest);
    if (st != DH_OK)
        return agent_fail(a, "measure", st);
    if (a->json) {
        json_t *o = json_object();
        json_object_set_new(o, "index", json_integer(index));
        json_object_set_new(o, "component", json_stringn(img.component, img.component_len));
        json_object_set_new(o, "version", json_stringn(img.version, img.version_len));
        json_object_set_new(o, "svn", json_integer(img.svn));
        json_object_set_new(o, "digest", hex_json(img.digest, sizeof img.digest));
        json_object_set_new(o, "signer", hex_json(img.signer, sizeof img.signer));
        char *s = json_dumps(o, JSON_PRESERVE_ORDER);
        if (s != NULL)
            puts(s);
        free(s);
        json_decref(o);
    } else {
        printf("%u\n", (unsigned)index);
    }
    return EXIT_OK;
}

static int cmd_measure(agent *a, int argc, char **argv)
{
    enum { O_TYPE = 1, O_VERSION, O_SIGNER, O_MANIFEST };
    static const struct option opts[] = {GLOBAL_OPTIONS,
                                         {"type", required_argument, 0, O_TYPE},
                                         {"version", required_argument, 0, O_VERSION},
                                         {"signer", required_argument, 0, O_SIGNER},
                                         {"manifest", required_argument, 0, O_MANIFEST},
                                         {0, 0, 0, 0}};
    const char *type = NULL, *version = NULL, *signer_hex = NULL, *manifest_path = NULL;
    int c, rc;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case OPT_HELP:
            printf("usage: drot-agent measure --type T --version V --signer HEX FILE\n"
                   "       drot-agent measure --manifest MANIFEST FILE\n"
                   "Measured host boot: hashes FILE (SHA-256) and extends it into the "
                   "APM's measurement\n"
                   "table, so every later token lists it. Prints the new entry's index. "
                   "Run by each\n"
                   "host boot stage on the image it is about to start.\n"
                   "  --type T        measurement type, e.g. HOST-BL or HOST-OS (1 to "
                   "32 printable chars)\n"
                   "  --version V     the image's version (1 to 32 printable chars)\n"
                   "  --signer HEX    signer id: SHA-256 of the key that signed the "
                   "image (32 bytes)\n"
                   "  --manifest M    verified boot: the APM first checks FILE against the "
                   "signed manifest M\n"
                   "                  (signer, revoked anchor, SVN not below its fuse, size, "
                   "digest); only then is\n"
                   "                  it measured, as the manifest's component, version and "
                   "signer. A refusal\n"
                   "                  (exit status 1) measures nothing: do not run FILE\n"
                   "The table holds 8 entries and only grows until the APM restarts; "
                   "the APM's refusal\n"
                   "(e.g. table full) is printed and the exit status is 1.\n" GLOBAL_HELP EXIT_CODES_HELP);
            return EXIT_OK;
        case O_TYPE: type = optarg; break;
        case O_VERSION: version = optarg; break;
        case O_SIGNER: signer_hex = optarg; break;
        case O_MANIFEST: manifest_path = optarg; break;
        case '?':
        case ':': return bad_option(a, c, argv);
        default:
            if ((rc = global_option(a, c, optarg)) != 0)
                return rc == 1 ? bad_option(a, '?', argv) : rc;
        }
    }
    if (manifest_path != NULL)
        return measure_verified(a, manifest_path, type != NULL || version != NULL || signer_hex != NULL, argc,
                                argv);
    if (type == NULL || version == NULL || signer_hex == NULL || optind + 1 != argc) {
        msg("measure: needs --type T --version V --signer HEX and exactly one "
            "FILE: see drot-agent measure "
            "--help");
        return EXIT_USAGE;
    }
    const char *path = argv[optind];
    for (int k = 0; k < 2; k++) {
        const char *s = k == 0 ? type : version;
        size_t len = strlen(s);
        bool ok = len >= 1 && len <= DROT_LINK_MAX_TEXT;
        for (size_t i = 0; ok && i < len; i++)
            ok = (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] <= 0x7e;
        if (!ok) {
            msg("measure: bad %s '%.40s': 1 to 32 printable ASCII characters",
                k == 0 ? "--type" : "--version", s);
            return EXIT_USAGE;
        }
    }
    uint8_t signer[32];
    size_t n;
    if ((rc = hex_arg("--signer", signer_hex, signer, sizeof signer, &n, 32, 0, 0)) != 0)
        return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        msg("measure: cannot open '%s': %s", path, strerror(errno));
        return EXIT_USAGE;
    }
    struct stat sb;
    bool is_file = fstat(fd, &sb) == 0 && (S_ISREG(sb.st_mode) || S_ISBLK(sb.st_mode));
    close(fd);
    if (!is_file) {
        msg("measure: '%s' is not a file or block device: nothing to measure", path);
        return EXIT_USAGE;
    }
    if ((rc = agent_open(a)) != 0)
        return rc;
    uint32_t index = 0;
    dh_status st = dh_measure_file(a->driver, type, version, signer, path, &index);
    if (st != DH_OK)
        return agent_fail(a, "measure", st);
    if (a->json)
        printf("{\"index\": %u}\n", (unsigned)index);
    else
        printf("%u\n", (unsigned)index);
    return EXIT_OK;
}

/* ---- seal / unseal
 * ----------------------------------------------------------- */

static int storage_args(agent *a, int argc, char **argv, bool seal, const char **dir, const char **label,
                        const char **file)
{
    enum { O_STORAGE = 1, O_LABEL, O_FILE };
    static const struct option seal_opts[] = {GLOBAL_OPTIONS,
                                              {"storage", required_argument, 0, O_STORAGE},
                                              {"label", required_argument, 0, O_LABEL},
                                              {"in", required_argument, 0, O_FILE},
                                              {0, 0, 0, 0}};
    static const struct option unseal_opts[] = {GLOBAL_OPTIONS,
                                                {"storage", required_argument, 0, O_STORAGE},
                                                {"label", required_argument, 0, O_LABEL},
                                                {"out", required_argument, 0, O_FILE},
                                                {0, 0, 0, 0}};
    int c, rc;
    while ((c = getopt_long(argc, argv, ":", seal ? seal_opts : unseal_opts, NULL)) != -1) {
        switch (c) {
        case OPT_HELP:
            if (seal)
                printf("usage: drot-agent seal --storage DIR --label L [--in FILE]\n"
                       "Seals data (FILE, or stdin; at most %u bytes) with the APM's "
                       "sealing key and\n"
                       "stores the blob as DIR/L. Only this device's APM, running "
                       "firmware from the same\n"
                       "signer, opens it again, and only under the same label.\n"
                       "  --storage DIR   the protected directory: created 0700 if "
                       "absent; refused if\n"
                       "                  group/other-accessible or owned by someone "
                       "else\n"
                       "  --label L       the blob's name: 1 to 64 of A-Z a-z 0-9 . _ "
                       "- (not . or ..)\n"
                       "  --in FILE       read the data from FILE instead of "
                       "stdin\n" GLOBAL_HELP EXIT_CODES_HELP,
                       (unsigned)AGENT_SEAL_MAX);
            else
                printf("usage: drot-agent unseal --storage DIR --label L [--out FILE]\n"
                       "Reads DIR/L, has the APM open it, and writes the data to "
                       "stdout (or FILE,\n"
                       "created with mode 0600). A blob from another device, under "
                       "another label, or\n"
                       "modified in any way is refused (exit status 1) and nothing is "
                       "written.\n"
                       "  --storage DIR   the protected directory (mode 0700, owned by "
                       "this user)\n"
                       "  --label L       the blob's name: 1 to 64 of A-Z a-z 0-9 . _ "
                       "- (not . or ..)\n"
                       "  --out FILE      write the data to FILE (mode 0600) instead "
                       "of stdout\n" GLOBAL_HELP EXIT_CODES_HELP);
            return -1;
        case O_STORAGE: *dir = optarg; break;
        case O_LABEL: *label = optarg; break;
        case O_FILE: *file = optarg; break;
        case '?':
        case ':': return bad_option(a, c, argv);
        default:
            if ((rc = global_option(a, c, optarg)) != 0)
                return rc == 1 ? bad_option(a, '?', argv) : rc;
        }
    }
    if (optind != argc) {
        msg("%s: unexpected argument '%s': see drot-agent %s --help", a->cmd, argv[optind], a->cmd);
        return EXIT_USAGE;
    }
    if (*dir == NULL || *label == NULL) {
        msg("%s: needs --storage DIR and --label L: see drot-agent %s --help", a->cmd, a->cmd);
        return EXIT_USAGE;
    }
    if (!label_ok(*label)) {
        msg("%s: bad --label '%.80s': 1 to 64 characters of A-Z a-z 0-9 . _ - (not "
            "\".\" or \"..\")",
            a->cmd, *label);
        return EXIT_USAGE;
    }
    return 0;
}

static int cmd_seal(agent *a, int argc, char **argv)
{
    const char *dir = NULL, *label = NULL, *in = NULL;
    int rc = storage_args(a, argc, argv, true, &dir, &label, &in);
    if (rc != 0)
        return rc < 0 ? EXIT_OK : rc;
    int fd = in != NULL ? open(in, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
    if (fd < 0) {
        msg("seal: cannot open '%s': %s", in, strerror(errno));
        return EXIT_USAGE;
    }
    uint8_t *data = NULL;
    size_t len = 0;
    int r = read_bounded(fd, AGENT_SEAL_MAX, &data, &len);
    if (in != NULL)
        close(fd);
    if (r == -2) {
        msg("seal: the data is larger than %u bytes, the most one blob holds", (unsigned)AGENT_SEAL_MAX);
        return EXIT_USAGE;
    }
    if (r != 0) {
        msg("seal: cannot read '%s': %s", in != NULL ? in : "stdin", strerror(errno));
        return EXIT_USAGE;
    }
    if ((rc = agent_open(a)) == 0) {
        dh_status st = dh_storage_put(a->driver, dir, label, data, len);
        rc = st == DH_OK ? EXIT_OK : agent_fail(a, "seal", st);
    }
    drot_wipe(data, AGENT_SEAL_MAX + 1);
    free(data);
    return rc;
}

static int cmd_unseal(agent *a, int argc, char **argv)
{
    const char *dir = NULL, *label = NULL, *out = NULL;
    int rc = storage_args(a, argc, argv, false, &dir, &label, &out);
    if (rc != 0)
        return rc < 0 ? EXIT_OK : rc;
    if ((rc = agent_open(a)) != 0)
        return rc;
    uint8_t *data = NULL;
    size_t len = 0;
    dh_status st = dh_storage_get(a->driver, dir, label, &data, &len);
    if (st != DH_OK)
        return agent_fail(a, "unseal", st);
    if (out != NULL) {
        int e = write_file(out, data, len, 0600);
        if (e != 0) {
            msg("unseal: cannot write '%s': %s", out, strerror(e));
            rc = EXIT_FAILED;
        }
    } else if (write_all(STDOUT_FILENO, data, len) != 0) {
        msg("unseal: cannot write to stdout: %s", strerror(errno));
        rc = EXIT_FAILED;
    }
    dh_storage_free(data, len);
    return rc;
}

/* ---- tamper-log
 * -------------------------------------------------------------- */

static int cmd_tamper_log(agent *a, int argc, char **argv)
{
    static const struct option opts[] = {GLOBAL_OPTIONS, {0, 0, 0, 0}};
    int c, rc;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        if (c == OPT_HELP) {
            printf("usage: drot-agent tamper-log [--json]\n"
                   "Shows the APM's tamper log: the newest 16 events (kind, APM time "
                   "in ms, reading:\n"
                   "mV, milli-degrees C, or 1 for intrusion) and the count of events "
                   "ever logged.\n"
                   "  --json   one JSON object instead of the table\n" GLOBAL_HELP EXIT_CODES_HELP);
            return EXIT_OK;
        }
        if (c == '?' || c == ':')
            return bad_option(a, c, argv);
        if ((rc = global_option(a, c, optarg)) != 0)
            return rc == 1 ? bad_option(a, '?', argv) : rc;
    }
    if (optind != argc) {
        msg("tamper-log: unexpected argument '%s': see drot-agent tamper-log "
            "--help",
            argv[optind]);
        return EXIT_USAGE;
    }
    if ((rc = agent_open(a)) != 0)
        return rc;
    drot_link_tamper_log log;
    dh_status st = dh_tamper_log(a->driver, &log);
    if (st != DH_OK)
        return agent_fail(a, "tamper-log", st);
    size_t n = log.num_events < DROT_LINK_MAX_TAMPER ? log.num_events : DROT_LINK_MAX_TAMPER;
    if (a->json) {
        json_t *o = json_object(), *ev = json_array();
        json_object_set_new(o, "total_count", json_integer((json_int_t)log.total_count));
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_object();
            json_object_set_new(e, "kind", json_string(tamper_kind_name(log.events[i].kind)));
            json_object_set_new(e, "kind_value", json_integer(log.events[i].kind));
            json_object_set_new(e, "tick_ms", json_integer((json_int_t)log.events[i].tick_ms));
            json_object_set_new(e, "value", json_integer((json_int_t)log.events[i].value));
            json_array_append_new(ev, e);
        }
        json_object_set_new(o, "events", ev);
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s != NULL)
            puts(s);
        free(s);
        json_decref(o);
    } else {
        printf("tamper events ever logged: %llu (showing %zu)\n", (unsigned long long)log.total_count, n);
        for (size_t i = 0; i < n; i++)
            printf("  %-12s tick %llu ms  value %lld\n", tamper_kind_name(log.events[i].kind),
                   (unsigned long long)log.events[i].tick_ms, (long long)log.events[i].value);
    }
    return EXIT_OK;
}

/* ---- server: enroll, attest-once, run
 * ------------------------------------------------------------------------
 * The networked side (docs/host.md "Server client and daemon"): the device
 * TLS key and certificate live in secure storage only, sealed by the APM
 * (labels below); the key is unsealed into memory and handed to libcurl as
 * a blob, never written to disk in plaintext. */

#define AGENT_TLS_KEY  "tls-key.pem"
#define AGENT_TLS_CERT "tls-cert.pem"

#define SERVER_HELP                                                                                          \
    "  --server URL    drot-server's base URL, e.g. https://drot.example.org:8443\n"                         \
    "  --ca FILE       the device CA (device-ca.crt.pem from drotctl init): the server's\n"                  \
    "                  certificate must chain to it (TLS 1.3 only)\n"                                        \
    "  --storage DIR   the protected storage directory holding the sealed TLS key and\n"                     \
    "                  certificate (mode 0700, owned by this user)\n"

typedef struct server_args {
    const char *url, *ca, *storage;
    long max_cycles;     /* run: 0 = forever */
    const char *host_fw; /* attest-once, run: --host-fw DIR (fw_loop.c), or NULL */
} server_args;

#define FW_LOOP_HELP                                                                                         \
    "  --host-fw DIR   where the host keeps its boot stages: DIR/A and DIR/B, and DIR/current\n"             \
    "                  (a symlink to one of them); a firmware job for HOST-BL or HOST-OS stages the\n"       \
    "                  new image in the other set and switches DIR/current to it\n"

typedef enum { SRV_ENROLL, SRV_ATTEST_ONCE, SRV_RUN } srv_cmd;

static void server_help(srv_cmd which)
{
    switch (which) {
    case SRV_ENROLL:
        printf("usage: drot-agent enroll --server URL --ca FILE --storage DIR [--json]\n"
               "Enrolls this device with drot-server: asks for a challenge, has the APM sign a token\n"
               "bound to the challenge and to this TLS connection's exporter, and sends it with a\n"
               "certificate request for the device's TLS key. The key (P-256, made on first enroll,\n"
               "reused after) and the issued certificate are sealed by the APM into DIR as\n"
               "tls-key.pem and tls-cert.pem; no plaintext key is ever written. Prints the verdict\n"
               "and the certificate's subject.\n" SERVER_HELP
               "  --json          one JSON object instead of text\n" GLOBAL_HELP EXIT_CODES_HELP);
        break;
    case SRV_ATTEST_ONCE:
        printf("usage: drot-agent attest-once --server URL --ca FILE --storage DIR [--json]\n"
               "One attestation with the enrolled device certificate: challenge, token bound to the\n"
               "connection, verdict. Prints the verdict (PASS, WARN or FAIL) and the reasons; a FAIL\n"
               "verdict exits with status 1. A rotation job the server names in a PASS answer is\n"
               "carried out at once (docs/drot.md); its outcome is one line on stderr. A firmware job\n"
               "is taken one step further (download, install and test boot, confirm; "
               "docs/firmware.md).\n" SERVER_HELP FW_LOOP_HELP
               "  --json          one JSON object instead of text\n" GLOBAL_HELP EXIT_CODES_HELP);
        break;
    case SRV_RUN:
        printf("usage: drot-agent run --server URL --ca FILE --storage DIR [--host-fw DIR] [--max-cycles N]\n"
               "The daemon: enrolls if DIR holds no certificate, then attests when the server\n"
               "says the next attestation is due (its class's policy interval, else its\n"
               "next_attest_in). On an error it retries after 1 s,\n"
               "doubling up to 60 s, each delay with +-20%% jitter. One line per cycle on stderr.\n"
               "Rotation jobs the server names are carried out as with attest-once; firmware jobs\n"
               "step by step, one step per attestation, the next attestation 1 s after a test boot.\n"
               "The agent may be stopped or killed at any time: it resumes from what the APM says.\n"
               "SIGTERM or SIGINT stops it with exit status 0.\n" SERVER_HELP FW_LOOP_HELP
               "  --max-cycles N  stop after N cycles (tests); exit 0 if the last one succeeded\n" GLOBAL_HELP
                   EXIT_CODES_HELP);
        break;
    }
}

/* 0, -1 after --help, or an exit status. */
static int server_args_parse(agent *a, int argc, char **argv, srv_cmd which, server_args *sa)
{
    enum { O_SERVER = 1, O_CA, O_STORAGE, O_MAX_CYCLES, O_HOST_FW };
    static const struct option opts[] = {GLOBAL_OPTIONS,
                                         {"server", required_argument, 0, O_SERVER},
                                         {"ca", required_argument, 0, O_CA},
                                         {"storage", required_argument, 0, O_STORAGE},
                                         {"max-cycles", required_argument, 0, O_MAX_CYCLES},
                                         {"host-fw", required_argument, 0, O_HOST_FW},
                                         {0, 0, 0, 0}};
    int c, rc;
    memset(sa, 0, sizeof *sa);
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case OPT_HELP: server_help(which); return -1;
        case O_SERVER: sa->url = optarg; break;
        case O_CA: sa->ca = optarg; break;
        case O_STORAGE: sa->storage = optarg; break;
        case O_HOST_FW:
            if (which == SRV_ENROLL)
                return bad_option(a, '?', argv);
            if (optarg[0] == '\0' || strlen(optarg) > 3000) {
                msg("%s: bad --host-fw: give the host's boot stage directory", a->cmd);
                return EXIT_USAGE;
            }
            sa->host_fw = optarg;
            break;
        case O_MAX_CYCLES: {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (which != SRV_RUN)
                return bad_option(a, '?', argv);
            if (errno != 0 || end == optarg || *end != '\0' || v < 1 || v > 1000000) {
                msg("run: bad --max-cycles '%s': give a number of cycles, 1 to 1000000", optarg);
                return EXIT_USAGE;
            }
            sa->max_cycles = v;
            break;
        }
        case '?':
        case ':': return bad_option(a, c, argv);
        default:
            if ((rc = global_option(a, c, optarg)) != 0)
                return rc == 1 ? bad_option(a, '?', argv) : rc;
        }
    }
    if (optind != argc) {
        msg("%s: unexpected argument '%s': see drot-agent %s --help", a->cmd, argv[optind], a->cmd);
        return EXIT_USAGE;
    }
    if (sa->url == NULL || sa->ca == NULL || sa->storage == NULL) {
        msg("%s: needs --server URL, --ca FILE and --storage DIR: see drot-agent %s --help", a->cmd, a->cmd);
        return EXIT_USAGE;
    }
    if (strncmp(sa->url, "https://", 8) != 0 || strlen(sa->url) < 9 || strlen(sa->url) > 400) {
        msg("%s: bad --server '%.80s': give the server's https:// URL, e.g. https://127.0.0.1:8443", a->cmd,
            sa->url);
        return EXIT_USAGE;
    }
    if (access(sa->ca, R_OK) != 0) {
        msg("%s: cannot read --ca '%s': %s (give the device CA, device-ca.crt.pem from drotctl init)", a->cmd,
            sa->ca, strerror(errno));
        return EXIT_USAGE;
    }
    return 0;
}

/* A failed APM request as one line into err (agent_fail's wording);
 * returns the exit status. */
static int apm_err(const agent *a, const char *what, dh_status st, char *err, size_t cap)
{
    const char *why = a->driver != NULL ? dh_driver_last_error(a->driver) : "";
    if (why == NULL || why[0] == '\0')
        why = dh_status_str(st);
    if (st == DH_E_CONNECT || st == DH_E_TIMEOUT) {
        static const char prefix[] = "cannot reach the APM: ";
        if (strncmp(why, prefix, sizeof prefix - 1) == 0)
            why += sizeof prefix - 1;
        snprintf(err, cap, "%s: cannot reach the APM at '%s': %s (is drot-apm running? check --socket)", what,
                 a->socket, why);
        return EXIT_UNREACHABLE;
    }
    snprintf(err, cap, "%s: %s", what, why);
    return EXIT_FAILED;
}

static bool storage_has(const char *dir, const char *label)
{
    char path[4200];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, label);
    return lstat(path, &sb) == 0;
}

/* Unseals label from storage into a NUL-terminated string (wiped by the
 * caller with dh_storage_free(p, len + 1)). */
static int storage_text(agent *a, const server_args *sa, const char *label, char **out, size_t *len,
                        char *err, size_t cap)
{
    uint8_t *data = NULL;
    size_t n = 0;
    dh_status st = dh_storage_get(a->driver, sa->storage, label, &data, &n);
    if (st != DH_OK) {
        char why[600];
        int rc = apm_err(a, "unseal", st, why, sizeof why);
        if (rc == EXIT_UNREACHABLE) {
            snprintf(err, cap, "%s", why);
            return rc;
        }
        /* Only a blob that fails authentication (DROT_E_VERIFY) can be from
         * another device; a refusal of key use (tamper lock, boot verdict,
         * lifecycle) says nothing about the blob and must not advise
         * deleting it. */
        if (st == DH_E_REFUSED && dh_driver_last_apm_code(a->driver) != DROT_E_VERIFY) {
            snprintf(err, cap, "the APM refused to unseal %s: %s", label, why + 8);
            return EXIT_FAILED;
        }
        snprintf(err, cap,
                 "the sealed %s in '%s' does not open on this device's APM: %s (storage from another device? "
                 "remove %s/%s and %s/%s, then drot-agent enroll again)",
                 label, sa->storage, why + 8, sa->storage, AGENT_TLS_KEY, sa->storage, AGENT_TLS_CERT);
        return EXIT_FAILED;
    }
    char *s = malloc(n + 1);
    if (s == NULL) {
        dh_storage_free(data, n);
        snprintf(err, cap, "out of memory");
        return EXIT_FAILED;
    }
    memcpy(s, data, n);
    s[n] = '\0';
    dh_storage_free(data, n);
    if (strlen(s) != n) {
        dh_storage_free((uint8_t *)s, n + 1);
        snprintf(err, cap, "the sealed %s in '%s' is not PEM text", label, sa->storage);
        return EXIT_FAILED;
    }
    *out = s;
    *len = n;
    return 0;
}

static int server_err(dh_server *srv, const char *what, dh_status st, char *err, size_t cap)
{
    const char *why = dh_server_last_error(srv);
    snprintf(err, cap, "%s: %s", what, why != NULL && why[0] != '\0' ? why : dh_status_str(st));
    return EXIT_FAILED;
}

static const char *verdict_name(uint32_t v)
{
    return v == 1 ? "PASS" : v == 2 ? "WARN" : v == 3 ? "FAIL" : "?";
}

/* Challenge on a new connection to the server, token for it from the APM.
 * On 0, *srv is open with the challenge's connection. */
static int challenge_and_token(agent *a, const server_args *sa, const dh_server_options *so,
                               const uint8_t id[16], dh_server **srv, uint8_t ch[32], uint8_t *token,
                               size_t cap, size_t *token_len, char *err, size_t errcap)
{
    uint8_t exporter[32];
    dh_status st = dh_server_open(srv, so);
    if (st != DH_OK) {
        snprintf(err, errcap, "cannot set up the server client for '%s': %s", sa->url, dh_status_str(st));
        return EXIT_FAILED;
    }
    st = dh_server_challenge(*srv, id, ch, exporter);
    if (st != DH_OK)
        return server_err(*srv, "challenge", st, err, errcap);
    st = dh_attest(a->driver, ch, exporter, DROT_LINK_PROFILE_DROT, token, cap, token_len);
    drot_wipe(exporter, sizeof exporter);
    if (st != DH_OK)
        return apm_err(a, "token", st, err, errcap);
    return 0;
}

typedef struct enroll_result {
    uint32_t verdict;
    uint64_t interval;
    char subject[256];
} enroll_result;

static int do_enroll(agent *a, const server_args *sa, const uint8_t id[16], enroll_result *res, char *err,
                     size_t cap)
{
    char *key = NULL, *csr = NULL;
    size_t key_len = 0;
    int rc = 0;
    if (storage_has(sa->storage, AGENT_TLS_KEY)) {
        /* Re-enrollment keeps the key: it must open on this APM. */
        if ((rc = storage_text(a, sa, AGENT_TLS_KEY, &key, &key_len, err, cap)) != 0)
            return rc;
        if (dh_tls_csr(key, id, &csr) != DH_OK) {
            snprintf(err, cap, "the sealed TLS key in '%s' is not a usable private key", sa->storage);
            rc = EXIT_FAILED;
        }
    } else if (dh_tls_key_new(id, &key, &key_len, &csr) != DH_OK) {
        snprintf(err, cap, "cannot generate the device's TLS key (OpenSSL)");
        return EXIT_FAILED;
    } else {
        dh_status st = dh_storage_put(a->driver, sa->storage, AGENT_TLS_KEY, (const uint8_t *)key, key_len);
        if (st != DH_OK)
            rc = apm_err(a, "seal the TLS key", st, err, cap);
    }
    dh_server *srv = NULL;
    static uint8_t token[DROT_LINK_MAX_TOKEN];
    size_t token_len = 0;
    uint8_t ch[32];
    dh_server_options so = {
        .url = sa->url, .ca_file = sa->ca, .timeout_s = a->timeout_ms > 0 ? 1 + a->timeout_ms / 1000 : 0};
    if (rc == 0)
        rc = challenge_and_token(a, sa, &so, id, &srv, ch, token, sizeof token, &token_len, err, cap);
    dh_server_enrollment e;
    memset(&e, 0, sizeof e);
    if (rc == 0) {
        dh_server_verdict reasons;
        dh_status st = dh_server_enroll(srv, id, ch, token, token_len, csr, &e, &reasons);
        if (st != DH_OK)
            rc = server_err(srv, "enroll", st, err, cap);
    }
    if (rc == 0 && strlen(e.cert_pem) > AGENT_SEAL_MAX) {
        snprintf(err, cap, "the issued certificate (%zu bytes) exceeds what one sealed blob holds",
                 strlen(e.cert_pem));
        rc = EXIT_FAILED;
    }
    if (rc == 0) {
        dh_status st = dh_storage_put(a->driver, sa->storage, AGENT_TLS_CERT, (const uint8_t *)e.cert_pem,
                                      strlen(e.cert_pem));
        if (st != DH_OK)
            rc = apm_err(a, "seal the certificate", st, err, cap);
    }
    if (rc == 0) {
        res->verdict = e.verdict;
        res->interval = e.attest_interval;
        if (dh_tls_cert_subject(e.cert_pem, res->subject, sizeof res->subject) != DH_OK)
            snprintf(res->subject, sizeof res->subject, "?");
    }
    dh_server_enrollment_free(&e);
    dh_server_close(srv);
    dh_tls_free(key, key_len);
    free(csr);
    return rc;
}

/* The server's rotation job for this device (docs/drot.md, "the agent's
 * part"): the APM's nonce (server mode) or proposal (device mode), a fresh
 * token on a new challenge, the server's instruction or endorsement, the
 * APM's receipt back to the server. The agent only relays: it can neither
 * make nor change any of these messages. A step that fails leaves the job
 * to the server, which retries it with a new nonce or completes it from the
 * device's next attestation. */
static int do_rotation(agent *a, const server_args *sa, const dh_server_options *so, const uint8_t id[16],
                       const dh_server_job *job, uint64_t *new_epoch, char *err, size_t cap)
{
    static uint8_t token[DROT_LINK_MAX_TOKEN], prop[DROT_LINK_ROT_MAX_MSG], msg[DROT_LINK_ROT_MAX_MSG],
        receipt[DROT_LINK_ROT_MAX_MSG];
    uint8_t nonce[DROT_LINK_ROT_NONCE_LEN], ch[32];
    size_t token_len = 0, prop_len = 0, msg_len = 0, receipt_len = 0;
    dh_server *srv = NULL;
    bool server_mode = job->mode == DH_JOB_MODE_SERVER;
    dh_status st;
    int rc;

    if (job->kind != DH_JOB_ROTATE_ROOT ||
        (job->mode != DH_JOB_MODE_SERVER && job->mode != DH_JOB_MODE_DEVICE)) {
        snprintf(err, cap, "job %llu: kind %u / mode %u is not one this agent can run (upgrade drot-agent)",
                 (unsigned long long)job->id, job->kind, job->mode);
        return EXIT_FAILED;
    }
    st = server_mode ? dh_rotation_nonce(a->driver, nonce)
                     : dh_rotate_propose(a->driver, prop, sizeof prop, &prop_len);
    if (st != DH_OK)
        return apm_err(a, server_mode ? "rotation nonce" : "rotation proposal", st, err, cap);
    rc = challenge_and_token(a, sa, so, id, &srv, ch, token, sizeof token, &token_len, err, cap);
    if (rc == 0) {
        st = dh_server_rotate_begin(srv, job->id, ch, token, token_len, server_mode ? nonce : NULL,
                                    server_mode ? NULL : prop, prop_len, msg, sizeof msg, &msg_len);
        if (st != DH_OK)
            rc = server_err(srv, "rotate/begin", st, err, cap);
    }
    if (rc == 0) {
        st = server_mode ? dh_rotate_root(a->driver, msg, msg_len, receipt, sizeof receipt, &receipt_len)
                         : dh_rotate_endorse(a->driver, msg, msg_len, receipt, sizeof receipt, &receipt_len);
        if (st != DH_OK)
            rc = apm_err(a, server_mode ? "ROTATE_ROOT" : "ROTATE_ENDORSE", st, err, cap);
    }
    if (rc == 0) {
        st = dh_server_rotate_receipt(srv, job->id, receipt, receipt_len, new_epoch);
        if (st != DH_OK)
            rc = server_err(srv, "rotate/receipt", st, err, cap);
    }
    dh_server_close(srv);
    drot_wipe(nonce, sizeof nonce);
    return rc;
}

/* A trust-anchor rotation job (docs/drot.md §7): up to four steps, each a
 * fresh nonce and token, the server's ROTATE_ANCHOR instruction for the
 * APM, and the APM's answer (or refusal) reported with the next step. */
static int do_anchor_rotation(agent *a, const server_args *sa, const dh_server_options *so,
                              const uint8_t id[16], const dh_server_job *job, char *err, size_t cap)
{
    static uint8_t token[DROT_LINK_MAX_TOKEN], msg[DROT_LINK_ROT_MAX_MSG];
    dh_anchor_report rep;
    bool have_rep = false;
    for (int step = 0; step < 8; step++) {
        uint8_t nonce[DROT_LINK_ROT_NONCE_LEN], ch[32];
        size_t token_len = 0, msg_len = 0;
        uint32_t op = 0;
        bool done = false;
        dh_server *srv = NULL;
        dh_status st = dh_rotation_nonce(a->driver, nonce);
        if (st != DH_OK)
            return apm_err(a, "rotation nonce", st, err, cap);
        int rc = challenge_and_token(a, sa, so, id, &srv, ch, token, sizeof token, &token_len, err, cap);
        if (rc == 0) {
            st = dh_server_anchor_step(srv, job->id, ch, token, token_len, nonce, have_rep ? &rep : NULL, msg,
                                       sizeof msg, &msg_len, &op, &done);
            if (st != DH_OK)
                rc = server_err(srv, "anchor/step", st, err, cap);
        }
        dh_server_close(srv);
        drot_wipe(nonce, sizeof nonce);
        if (rc != 0)
            return rc;
        if (done)
            return 0;
        drot_link_anchor_resp ans;
        st = dh_rotate_anchor(a->driver, msg, msg_len, &ans);
        memset(&rep, 0, sizeof rep);
        if (st == DH_E_REFUSED) {
            rep.refused = true;
            rep.code = dh_driver_last_apm_code(a->driver);
        } else if (st != DH_OK) {
            return apm_err(a, "ROTATE_ANCHOR", st, err, cap);
        } else {
            rep.op = ans.op;
            rep.slot = ans.slot;
        }
        have_rep = true;
    }
    snprintf(err, cap, "job %llu: the server asked for more than 8 steps", (unsigned long long)job->id);
    return EXIT_FAILED;
}

/* The server's revocation list is newer than the APM's (attest answer key
 * 8): fetch it and hand it to the APM (docs/revocation.md). Failures are
 * logged, not fatal: the next attestation tries again. */
static void sync_revocations(agent *a, const dh_server_options *so, uint64_t server_version)
{
    static drot_link_info info;
    static uint8_t list[DROT_LINK_REVOCATION_MAX];
    size_t len = 0;
    dh_status st = dh_get_info(a->driver, &info);
    if (st != DH_OK) {
        msg("revocation list: cannot read the APM's version: %s", dh_driver_last_error(a->driver));
        return;
    }
    if (info.revocation_version >= server_version)
        return;
    dh_server *srv = NULL;
    st = dh_server_open(&srv, so);
    if (st == DH_OK)
        st = dh_server_revocations(srv, list, sizeof list, &len);
    if (st != DH_OK) {
        msg("revocation list version %llu: cannot fetch it: %s", (unsigned long long)server_version,
            srv != NULL ? dh_server_last_error(srv) : dh_status_str(st));
        dh_server_close(srv);
        return;
    }
    dh_server_close(srv);
    drot_link_revocation_resp r;
    st = dh_set_revocation_list(a->driver, list, len, &r);
    if (st != DH_OK) {
        msg("revocation list version %llu: %s", (unsigned long long)server_version,
            dh_driver_last_error(a->driver));
        return;
    }
    msg("revocation list version %llu %s (the APM held version %llu)%s", (unsigned long long)r.version,
        r.changed ? "stored by the APM" : "already stored", (unsigned long long)info.revocation_version,
        r.drk_revoked ? "; it revokes this device's root key" : "");
}

static int do_attest(agent *a, const server_args *sa, const uint8_t id[16], dh_server_verdict *v,
                     bool *fw_again, char *err, size_t cap)
{
    *fw_again = false;
    if (!storage_has(sa->storage, AGENT_TLS_CERT)) {
        snprintf(err, cap, "no device certificate in '%s': run drot-agent enroll first", sa->storage);
        return EXIT_FAILED;
    }
    char *key = NULL, *cert = NULL;
    size_t key_len = 0, cert_len = 0;
    int rc = storage_text(a, sa, AGENT_TLS_KEY, &key, &key_len, err, cap);
    if (rc == 0)
        rc = storage_text(a, sa, AGENT_TLS_CERT, &cert, &cert_len, err, cap);
    dh_server *srv = NULL;
    static uint8_t token[DROT_LINK_MAX_TOKEN];
    size_t token_len = 0;
    uint8_t ch[32];
    dh_server_options so = {.url = sa->url,
                            .ca_file = sa->ca,
                            .cert_pem = cert,
                            .key_pem = key,
                            .timeout_s = a->timeout_ms > 0 ? 1 + a->timeout_ms / 1000 : 0};
    if (rc == 0)
        rc = challenge_and_token(a, sa, &so, id, &srv, ch, token, sizeof token, &token_len, err, cap);
    if (rc == 0) {
        dh_status st = dh_server_attest(srv, ch, token, token_len, v);
        if (st != DH_OK)
            rc = server_err(srv, "attest", st, err, cap);
    }
    dh_server_close(srv); /* before the key it points to is wiped */
    /* The list first: an instruction that follows must meet the newest one. */
    if (rc == 0 && v->has_revocation_version && v->revocation_version > 0)
        sync_revocations(a, &so, v->revocation_version);
    if (rc == 0 && v->has_job && v->verdict == 1) {
        /* The attestation itself succeeded whatever happens to the job: its
         * outcome is a line of its own, and the server owns the retry. */
        char jerr[1200];
        uint64_t epoch = 0;
        if (v->job.kind == DH_JOB_ROTATE_ANCHOR) {
            if (do_anchor_rotation(a, sa, &so, id, &v->job, jerr, sizeof jerr) == 0)
                msg("trust-anchor rotation job %llu: completed, the device obeys the new authority key",
                    (unsigned long long)v->job.id);
            else
                msg("trust-anchor rotation job %llu: %s", (unsigned long long)v->job.id, jerr);
        } else if (do_rotation(a, sa, &so, id, &v->job, &epoch, jerr, sizeof jerr) == 0)
            msg("rotation job %llu (%s mode): completed, the device root key is now at epoch %llu",
                (unsigned long long)v->job.id, v->job.mode == DH_JOB_MODE_SERVER ? "server" : "device",
                (unsigned long long)epoch);
        else
            msg("rotation job %llu: %s", (unsigned long long)v->job.id, jerr);
    }
    if (rc == 0) { /* a firmware job: one step (fw_loop.c); the server owns the retry */
        fw_loop fl = {a, &so, sa->storage, sa->host_fw};
        char ferr[1200];
        if (fw_loop_step(&fl, v, fw_again, ferr, sizeof ferr) != 0)
            msg("firmware job %llu: %s", (unsigned long long)v->fw.job_id, ferr);
    }
    if (key != NULL)
        dh_storage_free((uint8_t *)key, key_len + 1);
    if (cert != NULL)
        dh_storage_free((uint8_t *)cert, cert_len + 1);
    return rc;
}

/* The device id from GET_INFO. */
static int device_id(agent *a, uint8_t id[16], char *err, size_t cap)
{
    drot_link_info info;
    dh_status st = dh_get_info(a->driver, &info);
    if (st != DH_OK)
        return apm_err(a, "info", st, err, cap);
    memcpy(id, info.device_id, 16);
    return 0;
}

static int cmd_enroll(agent *a, int argc, char **argv)
{
    server_args sa;
    int rc = server_args_parse(a, argc, argv, SRV_ENROLL, &sa);
    if (rc != 0)
        return rc < 0 ? EXIT_OK : rc;
    if ((rc = agent_open(a)) != 0)
        return rc;
    char err[1200];
    uint8_t id[16];
    enroll_result res;
    memset(&res, 0, sizeof res);
    if ((rc = device_id(a, id, err, sizeof err)) == 0)
        rc = do_enroll(a, &sa, id, &res, err, sizeof err);
    if (rc != 0) {
        msg("enroll: %s", err);
        return rc;
    }
    if (a->json) {
        json_t *o = json_object();
        json_object_set_new(o, "device_id", hex_json(id, sizeof id));
        json_object_set_new(o, "verdict", json_string(verdict_name(res.verdict)));
        json_object_set_new(o, "subject", json_string(res.subject));
        json_object_set_new(o, "attest_interval", json_integer((json_int_t)res.interval));
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s != NULL)
            puts(s);
        free(s);
        json_decref(o);
    } else {
        printf("enrolled     ");
        hex_print(stdout, id, sizeof id);
        printf("\nverdict      %s\nsubject      %s\ninterval     %llu s\n", verdict_name(res.verdict),
               res.subject, (unsigned long long)res.interval);
    }
    return EXIT_OK;
}

/* A firmware offer (attest answer key 5) as JSON. */
static json_t *fw_offer_json(const dh_server_fw_offer *f)
{
    json_t *o = json_object();
    json_object_set_new(o, "job", json_integer((json_int_t)f->job_id));
    json_object_set_new(o, "component", json_string(f->component));
    json_object_set_new(o, "version", json_string(f->version));
    json_object_set_new(o, "sha256", hex_json(f->digest, 32));
    json_object_set_new(o, "size", json_integer((json_int_t)f->size));
    json_object_set_new(o, "state", json_string(f->state == DH_FW_INSTALLED ? "installed" : "offered"));
    return o;
}

static int cmd_attest_once(agent *a, int argc, char **argv)
{
    server_args sa;
    int rc = server_args_parse(a, argc, argv, SRV_ATTEST_ONCE, &sa);
    if (rc != 0)
        return rc < 0 ? EXIT_OK : rc;
    if ((rc = agent_open(a)) != 0)
        return rc;
    char err[1200];
    uint8_t id[16];
    static dh_server_verdict v;
    bool fw_again = false;
    if ((rc = device_id(a, id, err, sizeof err)) == 0)
        rc = do_attest(a, &sa, id, &v, &fw_again, err, sizeof err);
    if (rc != 0) {
        msg("attest-once: %s", err);
        return rc;
    }
    if (a->json) {
        json_t *o = json_object(), *r = json_array();
        json_object_set_new(o, "verdict", json_string(verdict_name(v.verdict)));
        for (size_t i = 0; i < v.num_reasons; i++)
            json_array_append_new(r, json_string(v.reasons[i]));
        json_object_set_new(o, "reasons", r);
        json_object_set_new(o, "next_attest_in", json_integer((json_int_t)v.next_in));
        if (v.has_fw)
            json_object_set_new(o, "firmware", fw_offer_json(&v.fw));
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s != NULL)
            puts(s);
        free(s);
        json_decref(o);
    } else {
        printf("verdict      %s\n", verdict_name(v.verdict));
        for (size_t i = 0; i < v.num_reasons; i++)
            printf("reason       %s\n", v.reasons[i]);
        printf("next attest  %llu s\n", (unsigned long long)v.next_in);
        if (v.has_fw) {
            printf("firmware     job %llu: %s %s, %llu bytes, sha256 ", (unsigned long long)v.fw.job_id,
                   v.fw.component, v.fw.version, (unsigned long long)v.fw.size);
            hex_print(stdout, v.fw.digest, 32);
            printf(" (%s)\n", v.fw.state == DH_FW_INSTALLED ? "installed" : "offered");
        }
    }
    return v.verdict == 3 ? EXIT_FAILED : EXIT_OK;
}

/* Waits ms milliseconds or until SIGTERM/SIGINT (blocked, so none is lost
 * between cycles). Returns the signal, or 0 after the full wait. */
static int run_wait(const sigset_t *set, long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    for (;;) {
        int sig = sigtimedwait(set, NULL, &ts);
        if (sig > 0)
            return sig;
        if (errno == EAGAIN)
            return 0;
        /* EINTR from another signal: wait again (slightly longer at worst). */
    }
}

static int cmd_run(agent *a, int argc, char **argv)
{
    server_args sa;
    int rc = server_args_parse(a, argc, argv, SRV_RUN, &sa);
    if (rc != 0)
        return rc < 0 ? EXIT_OK : rc;
    if ((rc = agent_open(a)) != 0)
        return rc;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL);
    uint8_t id[16];
    bool have_id = false;
    long backoff_ms = 1000;
    bool last_ok = false, fw_again = false;
    char err[1200];
    static dh_server_verdict v;
    for (long cycle = 1;; cycle++) {
        long delay_ms;
        rc = 0;
        if (!have_id && (rc = device_id(a, id, err, sizeof err)) == 0)
            have_id = true;
        if (rc == 0 && !storage_has(sa.storage, AGENT_TLS_CERT)) {
            enroll_result res;
            if ((rc = do_enroll(a, &sa, id, &res, err, sizeof err)) == 0) {
                delay_ms = (long)(res.interval > 0 && res.interval < 86400 * 7 ? res.interval : 3600) * 1000;
                msg("run: cycle %ld: enrolled, verdict %s, subject %s; next attestation in %ld s", cycle,
                    verdict_name(res.verdict), res.subject, delay_ms / 1000);
            }
        } else if (rc == 0 && (rc = do_attest(a, &sa, id, &v, &fw_again, err, sizeof err)) == 0) {
            delay_ms = (long)(v.next_in > 0 && v.next_in < 86400 * 7 ? v.next_in : 3600) * 1000;
            if (fw_again && delay_ms > 1000)
                delay_ms = 1000; /* a test boot: the trial is confirmed after a PASS on it, soon */
            msg("run: cycle %ld: attested, verdict %s%s%s%s; next in %ld s", cycle, verdict_name(v.verdict),
                v.num_reasons > 0 ? " (" : "", v.num_reasons > 0 ? v.reasons[0] : "",
                v.num_reasons > 1   ? "; …)"
                : v.num_reasons > 0 ? ")"
                                    : "",
                delay_ms / 1000);
        }
        if (rc == 0) {
            backoff_ms = 1000;
            last_ok = true;
        } else {
            /* Exponential back-off, 1 s to 60 s, +-20 % jitter. */
            double jitter = 0.8 + 0.4 * ((double)rand_r(&seed) / (double)RAND_MAX);
            delay_ms = (long)((double)backoff_ms * jitter);
            msg("run: cycle %ld: error: %s; retrying in %.2f s", cycle, err, (double)delay_ms / 1000.0);
            backoff_ms = backoff_ms * 2 > 60000 ? 60000 : backoff_ms * 2;
            last_ok = false;
        }
        if (sa.max_cycles > 0 && cycle >= sa.max_cycles) {
            msg("run: %ld cycles done", cycle);
            return last_ok ? EXIT_OK : EXIT_FAILED;
        }
        int sig = run_wait(&set, delay_ms);
        if (sig != 0) {
            msg("run: %s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            return EXIT_OK;
        }
    }
}

/* ---- firmware: fw fetch, fw report
 * ------------------------------------------------------------------------
 * By hand (docs/firmware.md "The agent's part"): fetch the image of a
 * firmware job the server offered (resumable), and report on a job. */

#define AGENT_FW_DIR "firmware" /* images and partial downloads, under --storage */

typedef struct fw_args {
    server_args sa;
    const char *dir;
    uint8_t digest[32];
    uint64_t size;
    long rate;
    uint64_t job;
    uint32_t state;
    const char *reason;
} fw_args;

static void fw_help(bool fetch)
{
    if (fetch)
        printf("usage: drot-agent fw fetch --server URL --ca FILE --storage DIR --digest HEX --size N\n"
               "                           [--dir FWDIR] [--limit-rate BYTES] [--json]\n"
               "Downloads the image of a firmware job the server offered this device (the digest and\n"
               "size are in the offer; attest-once shows it) over the device's mutual TLS, into\n"
               "FWDIR/<digest>.img (default DIR/" AGENT_FW_DIR "). The bytes land in <digest>.part as they\n"
               "arrive; if the transfer is cut or the agent is killed, the same command resumes from\n"
               "where the partial file ends. At the end the SHA-256 is checked: a mismatch deletes the\n"
               "partial file. Progress goes to stderr.\n" SERVER_HELP
               "  --digest HEX      the image's SHA-256 (64 hex digits)\n"
               "  --size N          its size in bytes (1..16777216)\n"
               "  --dir FWDIR       where to keep images (created 0700)\n"
               "  --limit-rate B    at most B bytes per second\n"
               "  --json            one JSON object instead of text\n" GLOBAL_HELP EXIT_CODES_HELP);
    else
        printf("usage: drot-agent fw report --server URL --ca FILE --storage DIR --job N\n"
               "                            --state installed|confirmed|failed [--reason TEXT] [--json]\n"
               "Tells the server how a firmware job went: installed (staged and test-booted),\n"
               "confirmed (the server accepts it only after a PASS attestation on the new image),\n"
               "failed (the server retries the job up to its rollout's attempts). Prints the job's\n"
               "state afterwards.\n" SERVER_HELP "  --job N           the job id of the offer\n"
               "  --state S         installed, confirmed or failed\n"
               "  --reason TEXT     why it failed (1..200 printable characters)\n"
               "  --json            one JSON object instead of text\n" GLOBAL_HELP EXIT_CODES_HELP);
}

/* 0, -1 after --help, or an exit status. */
static int fw_args_parse(agent *a, int argc, char **argv, bool fetch, fw_args *fa)
{
    enum { O_SERVER = 1, O_CA, O_STORAGE, O_DIGEST, O_SIZE, O_DIR, O_RATE, O_JOB, O_STATE, O_REASON };
    static const struct option opts[] = {GLOBAL_OPTIONS,
                                         {"server", required_argument, 0, O_SERVER},
                                         {"ca", required_argument, 0, O_CA},
                                         {"storage", required_argument, 0, O_STORAGE},
                                         {"digest", required_argument, 0, O_DIGEST},
                                         {"size", required_argument, 0, O_SIZE},
                                         {"dir", required_argument, 0, O_DIR},
                                         {"limit-rate", required_argument, 0, O_RATE},
                                         {"job", required_argument, 0, O_JOB},
                                         {"state", required_argument, 0, O_STATE},
                                         {"reason", required_argument, 0, O_REASON},
                                         {0, 0, 0, 0}};
    int c, rc;
    bool have_digest = false;
    size_t n = 0;
    memset(fa, 0, sizeof *fa);
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        char *end = NULL;
        errno = 0;
        bool fetch_only = c == O_DIGEST || c == O_SIZE || c == O_DIR || c == O_RATE;
        bool report_only = c == O_JOB || c == O_STATE || c == O_REASON;
        if ((fetch && report_only) || (!fetch && fetch_only))
            return bad_option(a, '?', argv);
        switch (c) {
        case OPT_HELP: fw_help(fetch); return -1;
        case O_SERVER: fa->sa.url = optarg; break;
        case O_CA: fa->sa.ca = optarg; break;
        case O_STORAGE: fa->sa.storage = optarg; break;
        case O_DIR: fa->dir = optarg; break;
        case O_REASON: fa->reason = optarg; break;
        case O_DIGEST:
            if ((rc = hex_arg("--digest", optarg, fa->digest, sizeof fa->digest, &n, 32, 0, 0)) != 0)
                return rc;
            have_digest = true;
            break;
        case O_SIZE:
            fa->size = strtoull(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != '\0' || optarg[0] == '-' || fa->size == 0 ||
                fa->size > DH_FW_IMAGE_MAX) {
                msg("fw fetch: bad --size '%s': give the image's size in bytes, 1 to %u", optarg,
                    DH_FW_IMAGE_MAX);
                return EXIT_USAGE;
            }
            break;
        case O_RATE:
            fa->rate = strtol(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != '\0' || fa->rate < 1024) {
                msg("fw fetch: bad --limit-rate '%s': give bytes per second, at least 1024", optarg);
                return EXIT_USAGE;
            }
            break;
        case O_JOB:
            fa->job = strtoull(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != '\0' || optarg[0] == '-' || fa->job == 0) {
                msg("fw report: bad --job '%s': give the job id of the offer", optarg);
                return EXIT_USAGE;
            }
            break;
        case O_STATE:
            fa->state = strcmp(optarg, "installed") == 0   ? DH_FW_INSTALLED
                        : strcmp(optarg, "confirmed") == 0 ? DH_FW_CONFIRMED
                        : strcmp(optarg, "failed") == 0    ? DH_FW_FAILED
                                                           : 0;
            if (fa->state == 0) {
                msg("fw report: bad --state '%s': installed, confirmed or failed", optarg);
                return EXIT_USAGE;
            }
            break;
        case '?':
        case ':': return bad_option(a, c, argv);
        default:
            if ((rc = global_option(a, c, optarg)) != 0)
                return rc == 1 ? bad_option(a, '?', argv) : rc;
        }
    }
    const char *cmd = fetch ? "fw fetch" : "fw report";
    if (optind != argc) {
        msg("%s: unexpected argument '%s': see drot-agent %s --help", cmd, argv[optind], cmd);
        return EXIT_USAGE;
    }
    if (fa->sa.url == NULL || fa->sa.ca == NULL || fa->sa.storage == NULL ||
        (fetch && (!have_digest || fa->size == 0)) || (!fetch && (fa->job == 0 || fa->state == 0))) {
        msg("%s: needs --server URL, --ca FILE, --storage DIR and %s: see drot-agent %s --help", cmd,
            fetch ? "--digest HEX --size N" : "--job N --state S", cmd);
        return EXIT_USAGE;
    }
    if (fa->reason != NULL) {
        size_t rl = strlen(fa->reason);
        bool ok = rl > 0 && rl <= 200;
        for (size_t i = 0; ok && i < rl; i++)
            ok = (unsigned char)fa->reason[i] >= 0x20 && (unsigned char)fa->reason[i] <= 0x7e;
        if (!ok) {
            msg("fw report: bad --reason: 1..200 printable ASCII characters");
            return EXIT_USAGE;
        }
    }
    if (strncmp(fa->sa.url, "https://", 8) != 0 || strlen(fa->sa.url) < 9 || strlen(fa->sa.url) > 400) {
        msg("%s: bad --server '%.80s': give the server's https:// URL", cmd, fa->sa.url);
        return EXIT_USAGE;
    }
    if (access(fa->sa.ca, R_OK) != 0) {
        msg("%s: cannot read --ca '%s': %s (give the device CA, device-ca.crt.pem from drotctl init)", cmd,
            fa->sa.ca, strerror(errno));
        return EXIT_USAGE;
    }
    return 0;
}

/* A server client with the device's certificate, unsealed from storage.
 * On 0 the caller closes *srv, then frees key and cert (dh_storage_free,
 * length + 1): the client points into them. */
static int device_server(agent *a, const server_args *sa, dh_server **srv, char **key, size_t *key_len,
                         char **cert, size_t *cert_len, char *err, size_t cap)
{
    *srv = NULL;
    *key = *cert = NULL;
    if (!storage_has(sa->storage, AGENT_TLS_CERT)) {
        snprintf(err, cap, "no device certificate in '%s': run drot-agent enroll first", sa->storage);
        return EXIT_FAILED;
    }
    int rc = storage_text(a, sa, AGENT_TLS_KEY, key, key_len, err, cap);
    if (rc == 0)
        rc = storage_text(a, sa, AGENT_TLS_CERT, cert, cert_len, err, cap);
    dh_server_options so = {.url = sa->url,
                            .ca_file = sa->ca,
                            .cert_pem = *cert,
                            .key_pem = *key,
                            .timeout_s = a->timeout_ms > 0 ? 1 + a->timeout_ms / 1000 : 0};
    if (rc == 0 && dh_server_open(srv, &so) != DH_OK) {
        snprintf(err, cap, "cannot set up the server client for '%s'", sa->url);
        rc = EXIT_FAILED;
    }
    return rc;
}

static void device_server_close(dh_server *srv, char *key, size_t key_len, char *cert, size_t cert_len)
{
    dh_server_close(srv); /* before the key it points to is wiped */
    if (key != NULL)
        dh_storage_free((uint8_t *)key, key_len + 1);
    if (cert != NULL)
        dh_storage_free((uint8_t *)cert, cert_len + 1);
}

/* Progress on stderr at every tenth of the image: rewritten in place on a
 * terminal, one line each otherwise (logs). */
static void fw_progress(void *ctx, uint64_t have, uint64_t total)
{
    int *last = ctx;
    bool tty = isatty(STDERR_FILENO) == 1;
    int tenth = total > 0 ? (int)(10 * have / total) : 10;
    if (tenth == *last)
        return;
    *last = tenth;
    fprintf(stderr, "%sdrot-agent: fw fetch: %.1f of %.1f MiB%s", tty ? "\r" : "", (double)have / 1048576.0,
            (double)total / 1048576.0, tty && have != total ? "" : "\n");
}

/* see agent.h */
int cmd_fw_server(agent *a, int argc, char **argv)
{
    bool fetch = strcmp(argv[1], "fetch") == 0;
    a->cmd = fetch ? "fw fetch" : "fw report";
    fw_args fa;
    int rc = fw_args_parse(a, argc - 1, argv + 1, fetch, &fa);
    if (rc != 0)
        return rc < 0 ? EXIT_OK : rc;
    if ((rc = agent_open(a)) != 0)
        return rc;
    char err[1200], dir[4200], path[4300];
    dh_server *srv = NULL;
    char *key = NULL, *cert = NULL;
    size_t key_len = 0, cert_len = 0;
    rc = device_server(a, &fa.sa, &srv, &key, &key_len, &cert, &cert_len, err, sizeof err);
    uint64_t resumed = 0;
    uint32_t state = 0;
    if (rc == 0 && fetch) {
        snprintf(dir, sizeof dir, "%s", fa.dir != NULL ? fa.dir : fa.sa.storage);
        if (fa.dir == NULL)
            snprintf(dir + strlen(dir), sizeof dir - strlen(dir), "/%s", AGENT_FW_DIR);
        int last = -1;
        dh_fetch_options fo = {fa.rate, fw_progress, &last};
        dh_status st = dh_server_fw_fetch(srv, dir, fa.digest, fa.size, &fo, path, sizeof path, &resumed);
        if (st != DH_OK)
            rc = server_err(srv, "fw fetch", st, err, sizeof err);
    } else if (rc == 0) {
        dh_status st = dh_server_fw_report(srv, fa.job, fa.state, fa.reason, &state);
        if (st != DH_OK)
            rc = server_err(srv, "fw report", st, err, sizeof err);
    }
    device_server_close(srv, key, key_len, cert, cert_len);
    if (rc != 0) {
        msg("%s", err);
        return rc;
    }
    static const char *const states[] = {"?",         "pending", "offered",  "installed",
                                         "confirmed", "failed",  "cancelled"};
    json_t *o = json_object();
    if (fetch) {
        json_object_set_new(o, "path", json_string(path));
        json_object_set_new(o, "size", json_integer((json_int_t)fa.size));
        json_object_set_new(o, "sha256", hex_json(fa.digest, 32));
        json_object_set_new(o, "resumed_from", json_integer((json_int_t)resumed));
    } else {
        json_object_set_new(o, "job", json_integer((json_int_t)fa.job));
        json_object_set_new(o, "state", json_string(states[state <= 6 ? state : 0]));
    }
    if (a->json) {
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s != NULL)
            puts(s);
        free(s);
    } else if (fetch) {
        printf("fetched      %s\nsize         %llu bytes\nsha256       ", path, (unsigned long long)fa.size);
        hex_print(stdout, fa.digest, 32);
        printf("\nresumed at   %llu\n", (unsigned long long)resumed);
    } else {
        printf("job          %llu\nstate        %s\n", (unsigned long long)fa.job,
               states[state <= 6 ? state : 0]);
    }
    json_decref(o);
    return EXIT_OK;
}

/* ---- main
 * -------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f, "usage: drot-agent [global options] COMMAND [options]\n"
               "The host side of the APM: attestation, measured host boot, secure "
               "storage.\n"
               "commands:\n"
               "  info         device id, epoch, lifecycle, instance id, boot status, "
               "tamper state,\n"
               "               measurements (--json for JSON)\n"
               "  attest       an attestation token: --nonce HEX | --challenge HEX "
               "--exporter HEX,\n"
               "               [--profile psa|drot] [--out FILE]\n"
               "  measure      hash a host firmware image and extend it into the APM (--manifest: the\n"
               "               APM verifies it first)\n"
               "  seal         seal data into the protected storage directory\n"
               "  unseal       open a sealed blob\n"
               "  tamper-log   the APM's tamper events (--json for JSON)\n"
               "  revocations  set FILE: hand a signed revocation list to the APM; status: its version\n"
               "  enroll       enroll with drot-server: --server URL --ca FILE --storage DIR\n"
               "  attest-once  one attestation with the enrolled certificate (same options)\n"
               "  run          the daemon: enroll if needed, then attest on the server's interval\n"
               "  fw           firmware install on the APM: install, verify, activate, confirm, status;\n"
               "               and with the server: fetch a job's image (resumable), report on a job\n"
               "'drot-agent COMMAND --help' describes each command.\n" GLOBAL_HELP EXIT_CODES_HELP);
}

int main(int argc, char **argv)
{
    agent a;
    memset(&a, 0, sizeof a);
    a.socket = getenv("DROT_APM_SOCKET");
    opterr = 0;
    static const struct option opts[] = {GLOBAL_OPTIONS, {0, 0, 0, 0}};
    int c, rc;
    while ((c = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
        if (c == OPT_HELP) {
            usage(stdout);
            return EXIT_OK;
        }
        if (c == '?' || c == ':')
            return bad_option(&a, c, argv);
        if ((rc = global_option(&a, c, optarg)) != 0)
            return rc == 1 ? bad_option(&a, '?', argv) : rc;
    }
    if (optind >= argc) {
        msg("no command: see drot-agent --help");
        return EXIT_USAGE;
    }
    static const struct {
        const char *name;
        int (*fn)(agent *, int, char **);
    } cmds[] = {{"info", cmd_info},     {"attest", cmd_attest},           {"measure", cmd_measure},
                {"seal", cmd_seal},     {"unseal", cmd_unseal},           {"tamper-log", cmd_tamper_log},
                {"enroll", cmd_enroll}, {"attest-once", cmd_attest_once}, {"run", cmd_run},
                {"fw", cmd_fw},         {"revocations", cmd_revocations}};
    const char *name = argv[optind];
    if (strcmp(name, "help") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        if (strcmp(name, cmds[i].name) != 0)
            continue;
        a.cmd = name;
        int sub_argc = argc - optind;
        char **sub_argv = argv + optind;
        optind = 0; /* GNU getopt: start over on the command's own arguments */
        rc = cmds[i].fn(&a, sub_argc, sub_argv);
        if (a.driver != NULL)
            dh_driver_close(a.driver);
        fflush(stdout);
        if (ferror(stdout) && rc == EXIT_OK) {
            msg("%s: cannot write to stdout", name);
            rc = EXIT_FAILED;
        }
        return rc;
    }
    msg("unknown command '%.40s': see drot-agent --help", name);
    return EXIT_USAGE;
}
