/*
 * measure.c — measured host boot: each boot stage hashes the image it is
 * about to hand control to and extends it into the APM, so every later
 * token lists it (DESIGN.md §4 "software components"; docs/host.md
 * "Measured boot").
 *
 * The digest is computed here, on the host, because the APM cannot read
 * host storage; what makes it evidence is that the APM's measurement table
 * only ever grows (an extend cannot remove or rewrite an entry) and that the
 * token carrying it is signed inside the APM. A stage that skips its extend
 * leaves a table the verifier does not accept.
 *
 * EXTEND_MEASUREMENT is not idempotent, so the driver does not retry it: a
 * failure is reported and the boot stage decides.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drot/host.h"
#include "drot_crypto.h"
#include "host_internal.h"

#define MEASURE_CHUNK 16384u

/* Measurement type and version: 1..32 bytes of printable ASCII, like the
 * fields of a firmware manifest (shown to operators, logged). */
static bool text_ok(const char *s)
{
    if (s == NULL)
        return false;
    size_t n = strnlen(s, DROT_LINK_MAX_TEXT + 1);
    if (n == 0 || n > DROT_LINK_MAX_TEXT)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

/* SHA-256 of everything readable from fd. */
static dh_status hash_fd(dh_driver *d, int fd, const char *path, uint8_t digest[DROT_SHA256_LEN])
{
    uint8_t buf[MEASURE_CHUNK];
    drot_sha256_ctx ctx;
    dh_status st = DH_OK;
    if (drot_sha256_init(&ctx) != DROT_OK)
        return dh_driver_fail(d, DH_E_IO, "SHA-256 unavailable");
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            st = dh_driver_fail(d, DH_E_IO, "cannot read '%s': %s", path, strerror(errno));
            break;
        }
        if (r == 0)
            break;
        if (drot_sha256_update(&ctx, buf, (size_t)r) != DROT_OK) {
            st = dh_driver_fail(d, DH_E_IO, "SHA-256 failed on '%s'", path);
            break;
        }
    }
    if (st == DH_OK && drot_sha256_final(&ctx, digest) != DROT_OK)
        st = dh_driver_fail(d, DH_E_IO, "SHA-256 failed on '%s'", path);
    drot_sha256_release(&ctx);
    return st;
}

/* see drot/host.h */
dh_status dh_measure_file(dh_driver *d, const char *type, const char *version, const uint8_t signer_id[32],
                          const char *path, uint32_t *index)
{
    if (d == NULL)
        return DH_E_ARG;
    if (!text_ok(type))
        return dh_driver_fail(d, DH_E_ARG,
                              "bad measurement type: 1 to 32 printable ASCII "
                              "characters (e.g. HOST-BL)");
    if (!text_ok(version))
        return dh_driver_fail(d, DH_E_ARG, "bad measurement version: 1 to 32 printable ASCII characters");
    if (signer_id == NULL || path == NULL || index == NULL)
        return dh_driver_fail(d, DH_E_ARG, "measure: missing signer id, path or index");

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return dh_driver_fail(d, DH_E_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !(S_ISREG(sb.st_mode) || S_ISBLK(sb.st_mode))) {
        close(fd);
        return dh_driver_fail(d, DH_E_IO, "'%s' is not a file or a block device: nothing to measure", path);
    }
    drot_link_measurement m;
    memset(&m, 0, sizeof m);
    dh_status st = hash_fd(d, fd, path, m.digest);
    close(fd);
    if (st != DH_OK)
        return st;
    m.type_len = strlen(type);
    memcpy(m.type, type, m.type_len);
    m.version_len = strlen(version);
    memcpy(m.version, version, m.version_len);
    memcpy(m.signer, signer_id, sizeof m.signer);
    return dh_extend(d, &m, index);
}

/* see drot/host.h
 *
 * The file is read once: its bytes stream to the APM (verify mode) and are
 * hashed here at the same time (fw.c checks the APM's digest against that
 * hash). The measurement that follows carries what the APM verified: the
 * manifest's component as the type, its version, the signing anchor's hash
 * as the signer id, and the verified digest. */
dh_status dh_measure_verified(dh_driver *d, const uint8_t *manifest, size_t manifest_len, const char *path,
                              drot_link_fw_image *out, uint32_t *index)
{
    drot_link_fw_image img;
    if (d == NULL)
        return DH_E_ARG;
    if (manifest == NULL || path == NULL || index == NULL)
        return dh_driver_fail(d, DH_E_ARG, "measure: missing manifest, path or index");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return dh_driver_fail(d, DH_E_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !(S_ISREG(sb.st_mode) || S_ISBLK(sb.st_mode))) {
        close(fd);
        return dh_driver_fail(d, DH_E_IO, "'%s' is not a file or a block device: nothing to measure", path);
    }
    dh_status st = dh_fw_verify(d, manifest, manifest_len, fd, &img);
    close(fd);
    if (st != DH_OK)
        return st;
    drot_link_measurement m;
    memset(&m, 0, sizeof m);
    m.type_len = img.component_len;
    memcpy(m.type, img.component, img.component_len);
    m.version_len = img.version_len;
    memcpy(m.version, img.version, img.version_len);
    memcpy(m.digest, img.digest, sizeof m.digest);
    memcpy(m.signer, img.signer, sizeof m.signer);
    if (out != NULL)
        *out = img;
    return dh_extend(d, &m, index);
}
