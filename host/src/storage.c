/*
 * storage.c — the host's secure storage: blobs sealed by the APM, kept as
 * files in a protected directory (DESIGN.md §3 "Sealing key", docs/host.md
 * "Secure storage").
 *
 * The APM seals (AES-GCM under a key derived from its UDS and the firmware
 * signer) and binds the label into the blob, so a blob opens only on the
 * device that sealed it, only under its own label, and only unmodified; a
 * firmware update signed by the same authority keeps it readable. This file
 * adds what the APM cannot do: a place on disk nobody else may touch, and
 * writes that never leave half a blob behind.
 *
 * Invariants:
 *   S1. The directory is a real directory (not a symlink), owned by the
 *       effective user, with no group or other permission bits. Anything else
 *       is refused before any file is read or written, with the fix named
 *       ("chmod 700 DIR"). It is created 0700 when absent (put only).
 *   S2. A label is 1..64 bytes of [A-Za-z0-9._-] and neither "." nor "..":
 *       it can never name anything outside the directory. Bad labels are
 *       refused before the APM is asked anything, and nothing is written.
 *   S3. put writes DIR/.LABEL.tmp.<pid> (O_EXCL, O_NOFOLLOW, 0600), fsyncs it,
 *       renames it onto DIR/LABEL and fsyncs the directory. rename(2) is
 *       atomic, so after a crash DIR/LABEL is the old blob or the new one,
 *       never a mix. A temp file left by a crash is only ever removed by a
 *       later put of the same label from a process with the same pid; get
 *       never looks at it (temp names start with '.', and a get opens exactly
 *       DIR/LABEL).
 *   S4. get opens DIR/LABEL with O_NOFOLLOW, requires a regular file of at
 *       most STORAGE_BLOB_MAX bytes, and returns plaintext only when the APM
 *       opened the blob. Every plaintext buffer this file allocates is wiped
 *       before it is freed.
 *
 * All file operations are relative to a descriptor of the checked
 * directory (openat, renameat), so the directory cannot be swapped for
 * another between the check and the write.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drot/host.h"
#include "drot_crypto.h"
#include "host_internal.h"

/* The largest blob we read back: 32 bytes of nonce and tag plus at most
 * DROT_LINK_SEAL_MAX_DATA bytes of data. */
#define STORAGE_BLOB_MAX DROT_LINK_SEAL_MAX_BLOB

#define STORAGE_LABEL_MAX DROT_LINK_SEAL_MAX_LABEL

static bool label_ok(const char *label)
{
    if (label == NULL)
        return false;
    size_t n = strnlen(label, STORAGE_LABEL_MAX + 1);
    if (n == 0 || n > STORAGE_LABEL_MAX)
        return false;
    /* No leading dot: names starting with "." are the temp files of a put
     * (".LABEL.tmp.PID"), so no label may ever name one (and "." and ".."
     * are excluded with them). */
    if (label[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = label[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                  c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

static dh_status check_label(dh_driver *d, const char *label)
{
    if (label_ok(label))
        return DH_OK;
    return dh_driver_fail(d, DH_E_STORAGE,
                          "bad storage label: a label is 1 to 64 characters of "
                          "A-Z a-z 0-9 . _ - (not \".\" or \"..\")");
}

/* Opens dir (S1). create: mkdir 0700 when it does not exist. *dfd is an
 * O_DIRECTORY descriptor on success. */
static dh_status open_dir(dh_driver *d, const char *dir, bool create, int *dfd)
{
    *dfd = -1;
    if (dir == NULL || dir[0] == '\0')
        return dh_driver_fail(d, DH_E_ARG, "no storage directory given");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return dh_driver_fail(d, DH_E_STORAGE, "cannot create storage directory '%s': %s", dir,
                                  strerror(errno));
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            return dh_driver_fail(d, DH_E_STORAGE, "storage directory '%s' does not exist", dir);
        if (e == ENOTDIR || e == ELOOP)
            return dh_driver_fail(d, DH_E_STORAGE,
                                  "storage directory '%s' is not a directory (or is a symbolic link): "
                                  "give a real directory of mode 0700",
                                  dir);
        return dh_driver_fail(d, DH_E_STORAGE, "cannot open storage directory '%s': %s", dir, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return dh_driver_fail(d, DH_E_STORAGE, "cannot stat storage directory '%s': %s", dir, strerror(e));
    }
    if (st.st_uid != geteuid()) {
        close(fd);
        return dh_driver_fail(d, DH_E_STORAGE,
                              "storage directory '%s' is owned by uid %ld, not by this user (uid "
                              "%ld): "
                              "use a directory of your own (chown, then chmod 700 %s)",
                              dir, (long)st.st_uid, (long)geteuid(), dir);
    }
    if ((st.st_mode & 077) != 0) {
        close(fd);
        return dh_driver_fail(d, DH_E_STORAGE,
                              "storage directory '%s' is accessible to group or "
                              "others (mode %04o): chmod 700 %s",
                              dir, (unsigned)(st.st_mode & 07777), dir);
    }
    *dfd = fd;
    return DH_OK;
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

/* Writes blob to DIR/.LABEL.tmp.<pid> and renames it onto DIR/LABEL (S3). */
static dh_status write_atomic(dh_driver *d, int dfd, const char *dir, const char *label, const uint8_t *blob,
                              size_t len)
{
    char tmp[STORAGE_LABEL_MAX + 32];
    snprintf(tmp, sizeof tmp, ".%s.tmp.%ld", label, (long)getpid());
    int flags = O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC;
    int fd = openat(dfd, tmp, flags, 0600);
    if (fd < 0 && errno == EEXIST) {
        /* Left by an earlier process with our pid (which is gone) or by an
         * earlier failed put of ours: the name is ours to reuse. */
        unlinkat(dfd, tmp, 0);
        fd = openat(dfd, tmp, flags, 0600);
    }
    if (fd < 0)
        return dh_driver_fail(d, DH_E_IO, "cannot create '%s/%s': %s", dir, tmp, strerror(errno));
    const char *step = "write";
    if (write_all(fd, blob, len) != 0)
        goto fail;
    step = "fsync";
    if (fsync(fd) != 0)
        goto fail;
    step = "close";
    int cfd = fd;
    fd = -1;
    if (close(cfd) != 0)
        goto fail;
    step = "rename";
    if (renameat(dfd, tmp, dfd, label) != 0)
        goto fail;
    /* The rename is durable only once the directory is. After this point
     * the new blob is in place whatever fsync says; report a failure all the
     * same, since durability is part of the contract. */
    if (fsync(dfd) != 0)
        return dh_driver_fail(d, DH_E_IO, "fsync of storage directory '%s' failed: %s", dir, strerror(errno));
    return DH_OK;
fail:;
    int e = errno;
    if (fd >= 0)
        close(fd);
    unlinkat(dfd, tmp, 0);
    return dh_driver_fail(d, DH_E_IO, "writing blob '%s' in '%s' failed at %s: %s", label, dir, step,
                          strerror(e));
}

/* see drot/host.h */
dh_status dh_storage_put(dh_driver *d, const char *dir, const char *label, const uint8_t *data, size_t len)
{
    if (d == NULL)
        return DH_E_ARG;
    if (data == NULL && len != 0)
        return dh_driver_fail(d, DH_E_ARG, "storage put: no data");
    dh_status st = check_label(d, label);
    if (st != DH_OK)
        return st;
    int dfd;
    st = open_dir(d, dir, true, &dfd);
    if (st != DH_OK)
        return st;
    static const uint8_t none[1];
    uint8_t *blob = malloc(STORAGE_BLOB_MAX);
    size_t blob_len = 0;
    if (blob == NULL) {
        st = dh_driver_fail(d, DH_E_NOMEM, "out of memory");
        goto out;
    }
    st = dh_seal(d, label, data != NULL ? data : none, len, blob, STORAGE_BLOB_MAX, &blob_len);
    if (st != DH_OK)
        goto out; /* the driver has said why */
    st = write_atomic(d, dfd, dir, label, blob, blob_len);
out:
    if (blob != NULL) {
        drot_wipe(blob, STORAGE_BLOB_MAX);
        free(blob);
    }
    close(dfd);
    return st;
}

/* Reads DIR/LABEL (S4) into a new buffer. */
static dh_status read_blob(dh_driver *d, int dfd, const char *dir, const char *label, uint8_t **blob,
                           size_t *len)
{
    *blob = NULL;
    *len = 0;
    int fd = openat(dfd, label, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            return dh_driver_fail(d, DH_E_STORAGE, "no blob named '%s' in '%s'", label, dir);
        if (e == ELOOP)
            return dh_driver_fail(d, DH_E_STORAGE, "'%s/%s' is a symbolic link, not a blob: refused", dir,
                                  label);
        return dh_driver_fail(d, DH_E_IO, "cannot open blob '%s/%s': %s", dir, label, strerror(e));
    }
    dh_status st = DH_OK;
    struct stat sb;
    uint8_t *buf = NULL;
    if (fstat(fd, &sb) != 0) {
        st = dh_driver_fail(d, DH_E_IO, "cannot stat blob '%s/%s': %s", dir, label, strerror(errno));
        goto out;
    }
    if (!S_ISREG(sb.st_mode) || sb.st_size <= 0 || (uint64_t)sb.st_size > STORAGE_BLOB_MAX) {
        st = dh_driver_fail(d, DH_E_STORAGE, "'%s/%s' is not a sealed blob (a regular file of 1 to %u bytes)",
                            dir, label, (unsigned)STORAGE_BLOB_MAX);
        goto out;
    }
    size_t n = (size_t)sb.st_size, got = 0;
    buf = malloc(n);
    if (buf == NULL) {
        st = dh_driver_fail(d, DH_E_NOMEM, "out of memory");
        goto out;
    }
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (got != n) {
        st = dh_driver_fail(d, DH_E_IO, "short read of blob '%s/%s'", dir, label);
        free(buf);
        buf = NULL;
        goto out;
    }
    *blob = buf;
    *len = n;
out:
    close(fd);
    return st;
}

/* see drot/host.h */
dh_status dh_storage_get(dh_driver *d, const char *dir, const char *label, uint8_t **data, size_t *len)
{
    if (data != NULL)
        *data = NULL;
    if (len != NULL)
        *len = 0;
    if (d == NULL)
        return DH_E_ARG;
    if (data == NULL || len == NULL)
        return dh_driver_fail(d, DH_E_ARG, "storage get: no output");
    dh_status st = check_label(d, label);
    if (st != DH_OK)
        return st;
    int dfd;
    st = open_dir(d, dir, false, &dfd);
    if (st != DH_OK)
        return st;
    uint8_t *blob = NULL, *plain = NULL;
    size_t blob_len = 0, plain_len = 0;
    st = read_blob(d, dfd, dir, label, &blob, &blob_len);
    close(dfd);
    if (st != DH_OK)
        return st;
    /* The plaintext is shorter than its blob; +1 keeps malloc away from 0. */
    size_t cap = blob_len + 1;
    plain = malloc(cap);
    if (plain == NULL) {
        st = dh_driver_fail(d, DH_E_NOMEM, "out of memory");
        goto out;
    }
    st = dh_unseal(d, label, blob, blob_len, plain, cap, &plain_len);
    if (st != DH_OK || plain_len > cap) {
        if (st == DH_OK)
            st = dh_driver_fail(d, DH_E_PROTOCOL, "UNSEAL returned more bytes than the buffer holds");
        drot_wipe(plain, cap);
        free(plain);
        plain = NULL;
        goto out;
    }
    *data = plain;
    *len = plain_len;
out:
    free(blob);
    return st;
}

/* see drot/host.h */
void dh_storage_free(uint8_t *data, size_t len)
{
    if (data == NULL)
        return;
    drot_wipe(data, len);
    free(data);
}
