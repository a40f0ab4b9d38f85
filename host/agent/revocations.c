/*
 * revocations.c — drot-agent revocations (docs/revocation.md, docs/host.md):
 *
 *   drot-agent revocations set FILE [--json]   hand a signed list to the APM
 *   drot-agent revocations status [--json]     the version the APM holds
 *
 * FILE is checked offline first (a signed revocation list, at most
 * DROT_LINK_REVOCATION_MAX bytes): a file that is not one is refused with
 * exit status 2 before the APM is asked. Whether its signer is trusted, and
 * whether its version may replace the APM's, is the APM's decision.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "agent.h"
#include "drot/cose.h"
#include "drot/revocation.h"

static void revocations_help(void)
{
    printf("usage: drot-agent revocations set FILE [--json]\n"
           "       drot-agent revocations status [--json]\n"
           "set     hands the signed revocation list in FILE (the CBOR bytes drot-server serves at\n"
           "        /v1/device/revocations, or drotctl revocations show-list --out) to the APM.\n"
           "        The APM checks the authority's signature and refuses a list older than the\n"
           "        one it holds, or another list under the same version; the same list again\n"
           "        changes nothing. Keys the list revokes are refused by the APM from then on.\n"
           "status  the version of the list the APM holds (0: none).\n"
           "  --json   one JSON object instead of text\n" GLOBAL_HELP EXIT_CODES_HELP);
}

/* Reads FILE and checks, offline, that it is a signed revocation list:
 * whether its signer is trusted is the APM's decision. */
static int load_revocation_file(const char *path, uint8_t **buf, size_t *len, uint64_t *version)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        msg("revocations set: cannot open '%s': %s", path, strerror(errno));
        return EXIT_USAGE;
    }
    int r = read_bounded(fd, DROT_LINK_REVOCATION_MAX, buf, len);
    close(fd);
    if (r == -2) {
        msg("revocations set: '%s' is larger than a signed revocation list can be (%u bytes)", path,
            (unsigned)DROT_LINK_REVOCATION_MAX);
        return EXIT_USAGE;
    }
    if (r != 0) {
        msg("revocations set: cannot read '%s': %s", path, strerror(errno));
        return EXIT_USAGE;
    }
    drot_cose_sign1_view v;
    static drot_revocation_list l;
    drot_status ds = drot_cose_sign1_decode(*buf, *len, &v);
    if (ds == DROT_OK && (!v.has_content_type || v.content_type != DROT_AUTH_CT_REVOCATION))
        ds = DROT_E_UNSUPPORTED;
    if (ds == DROT_OK)
        ds = drot_revocation_decode(v.payload, v.payload_len, &l);
    if (ds != DROT_OK) {
        msg("revocations set: '%s' is not a signed revocation list (%s): give the file drot-server "
            "serves at /v1/device/revocations",
            path, drot_status_str(ds));
        free(*buf);
        *buf = NULL;
        return EXIT_USAGE;
    }
    *version = l.version;
    return 0;
}

static int revocations_set(agent *a, const char *path)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    uint64_t version = 0;
    int rc = load_revocation_file(path, &buf, &len, &version);
    if (rc != 0)
        return rc;
    if ((rc = agent_open(a)) != 0) {
        free(buf);
        return rc;
    }
    drot_link_revocation_resp r;
    dh_status st = dh_set_revocation_list(a->driver, buf, len, &r);
    free(buf);
    if (st != DH_OK)
        return agent_fail(a, "revocations set", st);
    if (a->json) {
        json_t *o = json_object();
        json_object_set_new(o, "version", json_integer((json_int_t)r.version));
        json_object_set_new(o, "changed", json_boolean(r.changed));
        json_object_set_new(o, "drk_revoked", json_boolean(r.drk_revoked));
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s != NULL)
            puts(s);
        free(s);
        json_decref(o);
    } else {
        printf("revocation list version %llu %s\n", (unsigned long long)r.version,
               r.changed ? "stored by the APM" : "was already stored: nothing changed");
        if (r.drk_revoked)
            printf("the list revokes this device's root key: the APM signs no token with it any more\n");
    }
    return EXIT_OK;
}

int cmd_revocations(agent *a, int argc, char **argv)
{
    static const struct option opts[] = {GLOBAL_OPTIONS, {0, 0, 0, 0}};
    int c, rc;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        if (c == OPT_HELP) {
            revocations_help();
            return EXIT_OK;
        }
        if (c == '?' || c == ':')
            return bad_option(a, c, argv);
        if ((rc = global_option(a, c, optarg)) != 0)
            return rc == 1 ? bad_option(a, '?', argv) : rc;
    }
    const char *sub = optind < argc ? argv[optind] : NULL;
    if (sub != NULL && strcmp(sub, "set") == 0) {
        if (argc - optind != 2) {
            msg("revocations set: give exactly one FILE: see drot-agent revocations --help");
            return EXIT_USAGE;
        }
        return revocations_set(a, argv[optind + 1]);
    }
    if (sub != NULL && strcmp(sub, "status") == 0) {
        if (argc - optind != 1) {
            msg("revocations status: unexpected argument '%s'", argv[optind + 1]);
            return EXIT_USAGE;
        }
        if ((rc = agent_open(a)) != 0)
            return rc;
        drot_link_info i;
        dh_status st = dh_get_info(a->driver, &i);
        if (st != DH_OK)
            return agent_fail(a, "revocations status", st);
        if (a->json) {
            json_t *o = json_object();
            json_object_set_new(o, "version", json_integer((json_int_t)i.revocation_version));
            char *js = json_dumps(o, JSON_INDENT(2));
            if (js != NULL)
                puts(js);
            free(js);
            json_decref(o);
        } else if (i.revocation_version == 0)
            printf("the APM holds no revocation list\n");
        else
            printf("the APM holds revocation list version %llu\n", (unsigned long long)i.revocation_version);
        return EXIT_OK;
    }
    msg("revocations: %s%s%s: give 'set FILE' or 'status' (see drot-agent revocations --help)",
        sub == NULL ? "no subcommand" : "unknown subcommand '", sub == NULL ? "" : sub,
        sub == NULL ? "" : "'");
    return EXIT_USAGE;
}
