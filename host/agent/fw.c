/*
 * fw.c — drot-agent fw: firmware install on the APM by hand
 * (docs/firmware.md "Install on the device", docs/host.md).
 *
 *   drot-agent fw install MANIFEST IMAGE   stream a signed image to the APM
 *   drot-agent fw verify MANIFEST IMAGE    the same, verify only (writes nothing)
 *   drot-agent fw activate [--abort]       test-boot the staged APM image, or drop it
 *   drot-agent fw confirm COMPONENT        after a PASS attestation / a measured boot
 *   drot-agent fw status                   slots, trial, fuses, pending host images
 *
 * Every argument and input file is checked before the APM is asked (exit
 * status 2, nothing done); the APM's refusals are printed with its reason
 * (exit status 1). --json everywhere.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "drot/link_fw.h"

#define FW_HELP                                                                                              \
    "usage: drot-agent fw install [--json] MANIFEST IMAGE\n"                                                 \
    "       drot-agent fw verify [--json] MANIFEST IMAGE\n"                                                  \
    "       drot-agent fw activate [--abort] [--json]\n"                                                     \
    "       drot-agent fw confirm [--json] COMPONENT\n"                                                      \
    "       drot-agent fw status [--json]\n"                                                                 \
    "       drot-agent fw fetch|report [options]   (with the server)\n"                                      \
    "Firmware install on the APM. MANIFEST is an authority-signed manifest (drotctl firmware\n"              \
    "sign), IMAGE the image it names; the APM checks signer, signature, component, SVN against\n"            \
    "its fuse, size and digest itself, and refuses anything else.\n"                                         \
    "  install    APM: stage the image into the APM's inactive slot (trial pending);\n"                      \
    "             HOST-BL / HOST-OS: the APM records the verified image as pending\n"                        \
    "  verify     the same checks, nothing written (what 'measure --manifest' uses)\n"                       \
    "  activate   reset the APM into the staged image (a test boot: it reverts unless\n"                     \
    "             confirmed); --abort drops a staged or running trial\n"                                     \
    "  confirm    APM: after a PASS attestation of the trial image, make it the active\n"                    \
    "             image and raise svn[APM]; HOST-BL / HOST-OS: once the host booted and\n"                   \
    "             measured the pending image, raise that component's svn fuse\n"                             \
    "  status     running and active slot, trial state, both slots, svn fuses, pending\n"                    \
    "             host images, an open install session\n"                                                    \
    "  fetch      download the image of a firmware job the server offered (resumable):\n"                    \
    "             drot-agent fw fetch --help\n"                                                              \
    "  report     tell the server a job was installed, confirmed or failed:\n"                               \
    "             drot-agent fw report --help\n"                                                             \
    "  --json     one JSON object instead of text\n"

static const char *slot_name(uint32_t s)
{
    return s == 0 ? "A" : "B";
}

static const char *trial_name(uint32_t t)
{
    static const char *const n[] = {"none", "pending", "trying"};
    return t < 3 ? n[t] : "unknown";
}

static const char *last_name(uint32_t l)
{
    static const char *const n[] = {"none", "confirmed", "refused", "reset", "aborted"};
    return l < 5 ? n[l] : "unknown";
}

static const char *fuse_name(uint32_t c)
{
    static const char *const n[] = {"APM", "HOST-BL", "HOST-OS"};
    return c < 3 ? n[c] : "other";
}

static void json_out(json_t *o)
{
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s != NULL)
        puts(s);
    free(s);
    json_decref(o);
}

static json_t *image_json(const drot_link_fw_image *m)
{
    json_t *o = json_object();
    json_object_set_new(o, "component", json_stringn(m->component, m->component_len));
    json_object_set_new(o, "version", json_stringn(m->version, m->version_len));
    json_object_set_new(o, "svn", json_integer(m->svn));
    json_object_set_new(o, "digest", hex_json(m->digest, sizeof m->digest));
    json_object_set_new(o, "signer", hex_json(m->signer, sizeof m->signer));
    return o;
}

static void image_print(const drot_link_fw_image *m)
{
    text_print(m->component, m->component_len);
    printf(" ");
    text_print(m->version, m->version_len);
    printf(" (svn %u)\n  sha-256 ", (unsigned)m->svn);
    hex_print(stdout, m->digest, sizeof m->digest);
    printf("\n  signer  ");
    hex_print(stdout, m->signer, sizeof m->signer);
    printf("\n");
}

static bool is_apm(const drot_link_fw_image *m)
{
    return m->component_len == 3 && memcmp(m->component, "APM", 3) == 0;
}

/* Options of a subcommand: the global ones, --abort when abort != NULL.
 * Returns -1 to go on, else the exit status (help printed, bad option). */
static int parse(agent *a, int argc, char **argv, bool *abort_flag)
{
    enum { O_ABORT = 1 };
    static const struct option opts[] = {GLOBAL_OPTIONS, {"abort", no_argument, 0, O_ABORT}, {0, 0, 0, 0}};
    int c, rc;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case OPT_HELP: printf(FW_HELP GLOBAL_HELP EXIT_CODES_HELP); return EXIT_OK;
        case O_ABORT:
            if (abort_flag == NULL)
                return bad_option(a, '?', argv);
            *abort_flag = true;
            break;
        case '?':
        case ':': return bad_option(a, c, argv);
        default:
            if ((rc = global_option(a, c, optarg)) != 0)
                return rc == 1 ? bad_option(a, '?', argv) : rc;
        }
    }
    return -1;
}

static int want_args(const char *sub, int argc, int n, const char *what)
{
    if (argc - optind != n) {
        msg("fw %s: needs %s: see drot-agent fw --help", sub, what);
        return EXIT_USAGE;
    }
    return -1;
}

/* ---- install / verify --------------------------------------------------------------- */

/* The manifest file (1..512 bytes) and the image opened for reading. */
static int open_inputs(const char *sub, const char *mpath, const char *ipath, uint8_t **manifest,
                       size_t *mlen, int *ifd)
{
    int fd = open(mpath, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        msg("fw %s: cannot open manifest '%s': %s", sub, mpath, strerror(errno));
        return EXIT_USAGE;
    }
    int r = read_bounded(fd, DROT_LINK_FW_MANIFEST_MAX, manifest, mlen);
    close(fd);
    if (r != 0 || *mlen == 0) {
        if (r == 0)
            free(*manifest);
        msg("fw %s: manifest '%s' %s", sub, mpath,
            r == -2   ? "is larger than 512 bytes: not a manifest (see drotctl firmware inspect)"
            : r == -1 ? "cannot be read"
                      : "is empty");
        return EXIT_USAGE;
    }
    *ifd = open(ipath, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (*ifd < 0 || fstat(*ifd, &sb) != 0 || !(S_ISREG(sb.st_mode) || S_ISBLK(sb.st_mode))) {
        msg("fw %s: cannot use image '%s': %s", sub, ipath, *ifd < 0 ? strerror(errno) : "not a file");
        if (*ifd >= 0)
            close(*ifd);
        free(*manifest);
        return EXIT_USAGE;
    }
    return -1;
}

static int fw_stream(agent *a, int argc, char **argv, bool install)
{
    const char *sub = install ? "install" : "verify";
    int rc = parse(a, argc, argv, NULL);
    if (rc >= 0)
        return rc;
    if ((rc = want_args(sub, argc, 2, "MANIFEST IMAGE")) >= 0)
        return rc;
    uint8_t *manifest = NULL;
    size_t mlen = 0;
    int fd = -1;
    if ((rc = open_inputs(sub, argv[optind], argv[optind + 1], &manifest, &mlen, &fd)) >= 0)
        return rc;
    if ((rc = agent_open(a)) != 0) {
        close(fd);
        free(manifest);
        return rc;
    }
    drot_link_fw_image img;
    dh_status st = install ? dh_fw_install(a->driver, manifest, mlen, fd, NULL, NULL, &img)
                           : dh_fw_verify(a->driver, manifest, mlen, fd, &img);
    close(fd);
    free(manifest);
    if (st != DH_OK)
        return agent_fail(a, install ? "fw install" : "fw verify", st);
    if (a->json) {
        json_t *o = image_json(&img);
        json_object_set_new(o, "result",
                            json_string(!install       ? "verified"
                                        : is_apm(&img) ? "staged"
                                                       : "pending"));
        json_out(o);
        return EXIT_OK;
    }
    printf("%s: ", !install ? "verified" : is_apm(&img) ? "staged" : "verified and pending");
    image_print(&img);
    if (install && is_apm(&img))
        printf("the APM tries it at its next boot: 'drot-agent fw activate' resets it into the trial\n");
    else if (install)
        printf(
            "boot it and measure it ('drot-agent measure --manifest'), then 'drot-agent fw confirm %.*s'\n",
            (int)img.component_len, img.component);
    return EXIT_OK;
}

/* ---- activate ---------------------------------------------------------------------- */

static int fw_activate(agent *a, int argc, char **argv)
{
    bool abort_trial = false;
    int rc = parse(a, argc, argv, &abort_trial);
    if (rc >= 0)
        return rc;
    if ((rc = want_args("activate", argc, 0, "no arguments")) >= 0)
        return rc;
    if ((rc = agent_open(a)) != 0)
        return rc;
    bool reset = false;
    dh_status st = dh_fw_activate(
        a->driver, abort_trial ? DROT_LINK_FW_ACTIVATE_ABORT : DROT_LINK_FW_ACTIVATE_TRIAL, &reset);
    if (st != DH_OK)
        return agent_fail(a, "fw activate", st);
    /* After a reset the APM has booted again: say what it runs now. */
    drot_link_fw_status s;
    st = dh_fw_status(a->driver, &s);
    if (st != DH_OK)
        return agent_fail(a, "fw activate: the APM reset, but its status", st);
    bool trial_runs = s.trial == DROT_LINK_FW_TRIAL_TRYING && s.running != s.active;
    if (a->json) {
        json_t *o = json_object();
        json_object_set_new(o, "action", json_string(abort_trial ? "abort" : "trial"));
        json_object_set_new(o, "reset", json_boolean(reset));
        json_object_set_new(o, "running", json_string(slot_name(s.running)));
        json_object_set_new(o, "trial", json_string(trial_name(s.trial)));
        json_object_set_new(o, "last", json_string(last_name(s.last)));
        json_out(o);
    } else if (abort_trial) {
        printf("trial aborted%s; the APM runs slot %s\n", reset ? " and the APM reset" : "",
               slot_name(s.running));
    } else if (trial_runs) {
        printf("the APM reset and runs the staged image in slot %s on trial; attest, then 'drot-agent fw "
               "confirm APM' (any reset before that reverts to slot %s)\n",
               slot_name(s.running), slot_name(s.active));
    }
    if (!abort_trial && !trial_runs) {
        msg("fw activate: the APM reset, but the staged image did not pass its test boot: it runs slot %s "
            "again (last trial: %s)",
            slot_name(s.running), last_name(s.last));
        return EXIT_FAILED;
    }
    return EXIT_OK;
}

/* ---- confirm ----------------------------------------------------------------------- */

static int fw_confirm(agent *a, int argc, char **argv)
{
    int rc = parse(a, argc, argv, NULL);
    if (rc >= 0)
        return rc;
    if ((rc = want_args("confirm", argc, 1, "COMPONENT (APM, HOST-BL or HOST-OS)")) >= 0)
        return rc;
    const char *comp = argv[optind];
    size_t n = strlen(comp);
    bool ok = n >= 1 && n <= DROT_LINK_FW_COMPONENT_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = comp[i] > 0x20 && comp[i] < 0x7f;
    if (!ok) {
        msg("fw confirm: bad COMPONENT '%.40s': APM, HOST-BL or HOST-OS", comp);
        return EXIT_USAGE;
    }
    if ((rc = agent_open(a)) != 0)
        return rc;
    uint32_t svn = 0;
    dh_status st = dh_fw_confirm(a->driver, comp, &svn);
    if (st != DH_OK)
        return agent_fail(a, "fw confirm", st);
    if (a->json) {
        json_t *o = json_object();
        json_object_set_new(o, "component", json_string(comp));
        json_object_set_new(o, "svn", json_integer(svn));
        json_out(o);
    } else {
        printf("%s confirmed: its svn fuse is now %u\n", comp, (unsigned)svn);
    }
    return EXIT_OK;
}

/* ---- status ------------------------------------------------------------------------ */

static void status_json(const drot_link_fw_status *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "running", json_string(slot_name(s->running)));
    json_object_set_new(o, "active", json_string(slot_name(s->active)));
    json_object_set_new(o, "trial", json_string(trial_name(s->trial)));
    json_object_set_new(o, "last", json_string(last_name(s->last)));
    json_t *slots = json_array();
    for (uint32_t i = 0; i < DROT_LINK_FW_SLOTS; i++) {
        const drot_link_fw_slot *sl = &s->slots[i];
        json_t *j = json_object();
        json_object_set_new(j, "slot", json_string(slot_name(i)));
        json_object_set_new(j, "status", json_integer(sl->status));
        json_object_set_new(j, "version", json_stringn(sl->version, sl->version_len));
        json_object_set_new(j, "svn", json_integer(sl->svn));
        json_object_set_new(j, "digest", hex_json(sl->digest, sizeof sl->digest));
        json_array_append_new(slots, j);
    }
    json_object_set_new(o, "slots", slots);
    json_t *svns = json_object();
    for (size_t i = 0; i < s->num_svns && i < DROT_LINK_MAX_SVNS; i++)
        json_object_set_new(svns, fuse_name(s->svns[i].component), json_integer((json_int_t)s->svns[i].svn));
    json_object_set_new(o, "svns", svns);
    json_t *pending = json_array();
    for (size_t i = 0; i < s->num_pending && i < DROT_LINK_FW_PENDING_MAX; i++)
        json_array_append_new(pending, image_json(&s->pending[i]));
    json_object_set_new(o, "pending", pending);
    json_t *sess = json_object();
    static const char *const modes[] = {"none", "install", "verify"};
    json_object_set_new(sess, "mode", json_string(modes[s->session_mode < 3 ? s->session_mode : 0]));
    json_object_set_new(sess, "component", json_stringn(s->session_component, s->session_component_len));
    json_object_set_new(sess, "received", json_integer(s->session_received));
    json_object_set_new(sess, "size", json_integer(s->session_size));
    json_object_set_new(o, "session", sess);
    json_out(o);
}

static void status_table(const drot_link_fw_status *s)
{
    printf("running slot   %s\nactive slot    %s\n", slot_name(s->running), slot_name(s->active));
    printf("trial          %s\nlast trial     %s\n", trial_name(s->trial), last_name(s->last));
    for (uint32_t i = 0; i < DROT_LINK_FW_SLOTS; i++) {
        const drot_link_fw_slot *sl = &s->slots[i];
        printf("slot %s         ", slot_name(i));
        if (sl->status == 0)
            printf("verifies  ");
        else
            printf("REFUSED (%d)  ", (int)sl->status);
        text_print(sl->version, sl->version_len);
        printf("%ssvn %u  sha-256 ", sl->version_len > 0 ? "  " : "", (unsigned)sl->svn);
        hex_print(stdout, sl->digest, sizeof sl->digest);
        printf("\n");
    }
    printf("svn fuses      ");
    for (size_t i = 0; i < s->num_svns && i < DROT_LINK_MAX_SVNS; i++)
        printf("%s%s %llu", i > 0 ? ", " : "", fuse_name(s->svns[i].component),
               (unsigned long long)s->svns[i].svn);
    printf("\npending        %zu\n", s->num_pending);
    for (size_t i = 0; i < s->num_pending && i < DROT_LINK_FW_PENDING_MAX; i++) {
        printf("  ");
        image_print(&s->pending[i]);
    }
    if (s->session_mode == 0) {
        printf("session        none\n");
    } else {
        printf("session        %s ", s->session_mode == DROT_LINK_FW_MODE_INSTALL ? "install" : "verify");
        text_print(s->session_component, s->session_component_len);
        printf(", %u of %u bytes\n", (unsigned)s->session_received, (unsigned)s->session_size);
    }
}

static int fw_status(agent *a, int argc, char **argv)
{
    int rc = parse(a, argc, argv, NULL);
    if (rc >= 0)
        return rc;
    if ((rc = want_args("status", argc, 0, "no arguments")) >= 0)
        return rc;
    if ((rc = agent_open(a)) != 0)
        return rc;
    drot_link_fw_status s;
    dh_status st = dh_fw_status(a->driver, &s);
    if (st != DH_OK)
        return agent_fail(a, "fw status", st);
    if (a->json)
        status_json(&s);
    else
        status_table(&s);
    return EXIT_OK;
}

/* see agent.h */
int cmd_fw(agent *a, int argc, char **argv)
{
    if (argc < 2) {
        msg("fw: no subcommand: install, verify, activate, confirm, status, fetch or report (see drot-agent "
            "fw "
            "--help)");
        return EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
        printf(FW_HELP GLOBAL_HELP EXIT_CODES_HELP);
        return EXIT_OK;
    }
    optind = 0; /* GNU getopt: start over on the subcommand's arguments */
    if (strcmp(sub, "install") == 0)
        return fw_stream(a, argc - 1, argv + 1, true);
    if (strcmp(sub, "verify") == 0)
        return fw_stream(a, argc - 1, argv + 1, false);
    if (strcmp(sub, "activate") == 0)
        return fw_activate(a, argc - 1, argv + 1);
    if (strcmp(sub, "confirm") == 0)
        return fw_confirm(a, argc - 1, argv + 1);
    if (strcmp(sub, "status") == 0)
        return fw_status(a, argc - 1, argv + 1);
    if (strcmp(sub, "fetch") == 0 || strcmp(sub, "report") == 0)
        return cmd_fw_server(a, argc, argv);
    msg("fw: unknown subcommand '%.40s': install, verify, activate, confirm, status, fetch or report", sub);
    return EXIT_USAGE;
}
