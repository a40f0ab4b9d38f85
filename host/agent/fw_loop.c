/*
 * fw_loop.c — the agent's part of a firmware job (docs/firmware.md "The
 * agent's part"): after each attestation, one step towards the release the
 * server offers, decided afresh every time from what is true now, never from
 * what the agent remembers doing:
 *
 *   what the APM says (FW_STATUS: the running and active slots, the trial,
 *   the pending host images), what this boot measured (GET_INFO), what the
 *   host's A/B directories hold, and the server's offer.
 *
 * So the agent may be killed, and the APM may lose power, at any instant:
 * the next attestation finds the state and takes the next step, and no step
 * is done twice in a way that matters (every one is idempotent or refused
 * harmlessly by the APM or the server).
 *
 * APM image (the offer's component "APM"):
 *
 *   the running slot holds the release ──┬─ trial TRYING (this boot runs the test boot, and
 *                                        │   the attestation just made on it PASSed): confirm
 *                                        │   it with the APM (it becomes the active slot, the
 *                                        │   svn fuse rises), report confirmed
 *                                        └─ no trial (confirmed already): report confirmed
 *   the other slot holds it, PENDING ─────── activate the trial (the APM resets into it: a
 *                                            test boot), report installed; attest again
 *   otherwise ────────────────────────────── drop another trial if one is there, download
 *                                            the image (resumable), install it (the APM
 *                                            verifies manifest and image and stages it in
 *                                            the inactive slot), activate, report installed;
 *                                            a refusal by the APM is reported as failed
 *
 * Host boot stage ("HOST-BL", "HOST-OS"), with --host-fw DIR (without it the
 * agent leaves such a job alone, to be done by hand or to time out):
 *
 *   this boot measured the release ──────── confirm with the APM (its svn fuse rises) if it
 *                                            has the pending entry, report confirmed
 *   DIR/current holds it ───────────────────  report installed: the host's next boot runs it
 *   otherwise ────────────────────────────── download, install (the APM verifies it and
 *                                            records it pending), copy the current set of
 *                                            stages into the inactive directory with the new
 *                                            image in place, switch DIR/current to it
 *                                            (rename of a symlink: atomic), report installed
 *
 * DIR holds A/ and B/ (each <COMPONENT>.img and <COMPONENT>.cose, the
 * manifest) and current, a symlink to "A" or "B"; the host's boot measures
 * DIR/current/<COMPONENT>.img with `drot-agent measure --manifest`.
 *
 * When an attestation on a trial image is not a PASS, the server offers
 * nothing; the agent then aborts the trial (the APM goes back to its old
 * slot) and reports the job failed, from the job it noted in
 * STORAGE/firmware/job when the trial began.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "drot/link_fw.h"
#include "drot_crypto.h"

#define JOB_FILE "job" /* under STORAGE/firmware: the job of a running trial */

static const char *fw_dir_name = "firmware";

typedef struct step {
    const fw_loop *c;
    dh_server *srv;
    const dh_server_fw_offer *o;
    char *err;
    size_t cap;
} step;

static int failf(step *s, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int failf(step *s, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, s->cap, fmt, ap);
    va_end(ap);
    return rc;
}

/* An APM request failed: its reason (the driver's text). */
static int apm_failed(step *s, const char *what, dh_status st)
{
    const char *why = dh_driver_last_error(s->c->a->driver);
    return failf(s, st == DH_E_CONNECT || st == DH_E_TIMEOUT ? EXIT_UNREACHABLE : EXIT_FAILED, "%s: %s", what,
                 why != NULL && why[0] != '\0' ? why : dh_status_str(st));
}

static void hex_of(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

static bool text_is(const char *p, size_t n, const char *s)
{
    return n == strlen(s) && memcmp(p, s, n) == 0;
}

/* Tells the server; a failure to reach it is logged only: the next
 * attestation finds the same state and reports again. */
static void report(step *s, uint32_t state, const char *reason)
{
    uint32_t after = 0;
    char r[201] = "";
    if (reason != NULL) { /* the server takes 1..200 printable bytes */
        size_t n = 0;
        for (const char *p = reason; *p != '\0' && n < 200; p++)
            r[n++] = (unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e ? '?' : *p;
        r[n] = '\0';
    }
    dh_status st =
        dh_server_fw_report(s->srv, s->o->job_id, state, reason != NULL && r[0] ? r : NULL, &after);
    if (st != DH_OK)
        msg("firmware job %llu: the report of %s did not go through: %s (it is sent again after the next "
            "attestation)",
            (unsigned long long)s->o->job_id,
            state == DH_FW_CONFIRMED   ? "confirmed"
            : state == DH_FW_INSTALLED ? "installed"
                                       : "failed",
            dh_server_last_error(s->srv));
}

/* ---- the job note: which job a trial belongs to ---------------------------------------------- */

static void note_path(const fw_loop *c, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s/%s", c->storage, fw_dir_name, JOB_FILE);
}

/* "<job id> <digest hex>\n", written atomically. */
static void note_job(const fw_loop *c, const dh_server_fw_offer *o)
{
    char path[4300], tmp[4320], d[65], line[128], dir[4300];
    snprintf(dir, sizeof dir, "%s/%s", c->storage, fw_dir_name);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return;
    note_path(c, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    hex_of(o->digest, 32, d);
    int n = snprintf(line, sizeof line, "%llu %s\n", (unsigned long long)o->job_id, d);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    bool ok = write(fd, line, (size_t)n) == n && fsync(fd) == 0;
    close(fd);
    if (!ok || rename(tmp, path) != 0)
        unlink(tmp);
}

static bool read_note(const fw_loop *c, uint64_t *job, uint8_t digest[32])
{
    char path[4300], line[160], d[65];
    note_path(c, path, sizeof path);
    FILE *f = fopen(path, "r");
    unsigned long long j = 0;
    bool ok = f != NULL && fgets(line, sizeof line, f) != NULL && sscanf(line, "%llu %64s", &j, d) == 2 &&
              strlen(d) == 64 && j > 0;
    if (f != NULL)
        fclose(f);
    for (size_t i = 0; ok && i < 32; i++) {
        unsigned v;
        ok = sscanf(d + 2 * i, "%2x", &v) == 1;
        digest[i] = (uint8_t)v;
    }
    *job = j;
    return ok;
}

static void forget_job(const fw_loop *c)
{
    char path[4300];
    note_path(c, path, sizeof path);
    unlink(path);
}

/* ---- downloading and installing ------------------------------------------------------------------ */

static void progress(void *ctx, uint64_t have, uint64_t total)
{
    int *last = ctx;
    int tenth = total > 0 ? (int)(10 * have / total) : 10;
    if (tenth == *last)
        return;
    *last = tenth;
    msg("firmware: download %llu of %llu KiB", (unsigned long long)(have / 1024),
        (unsigned long long)(total / 1024));
}

/* The offered image in STORAGE/firmware (resumed if a download broke). */
static int fetch(step *s, char *path, size_t cap)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s", s->c->storage, fw_dir_name);
    int last = -1;
    uint64_t from = 0;
    dh_fetch_options fo = {0, progress, &last};
    dh_status st = dh_server_fw_fetch(s->srv, dir, s->o->digest, s->o->size, &fo, path, cap, &from);
    if (st != DH_OK)
        return failf(s, EXIT_FAILED, "download: %s", dh_server_last_error(s->srv));
    if (from > 0 && from < s->o->size)
        msg("firmware job %llu: the download resumed at byte %llu", (unsigned long long)s->o->job_id,
            (unsigned long long)from);
    return 0;
}

/* dh_fw_install of the downloaded image. DH_E_REFUSED: the APM refused it
 * (reported as failed by the caller, with the APM's reason in err). */
static dh_status install(step *s, const char *path, char *why, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, cap, "cannot open %s: %s", path, strerror(errno));
        return DH_E_IO;
    }
    drot_link_fw_image img;
    dh_status st = dh_fw_install(s->c->a->driver, s->o->manifest, s->o->manifest_len, fd, NULL, NULL, &img);
    close(fd);
    if (st != DH_OK)
        snprintf(why, cap, "%s", dh_driver_last_error(s->c->a->driver));
    return st;
}

/* ---- the APM's own image ------------------------------------------------------------------------------- */

static void remeasure_host(step *s);

static int apm_step(step *s, const drot_link_fw_status *fs, bool *again)
{
    dh_driver *d = s->c->a->driver;
    const drot_link_fw_slot *run = &fs->slots[fs->running & 1], *other = &fs->slots[(fs->running & 1) ^ 1];
    dh_status st;
    bool reset = false;
    if (drot_ct_equal(run->digest, s->o->digest, 32) == DROT_OK && run->status == 0) {
        if (fs->trial == DROT_LINK_FW_TRIAL_TRYING) {
            /* The attestation just made ran on the trial and PASSed. */
            uint32_t svn = 0;
            if ((st = dh_fw_confirm(d, "APM", &svn)) != DH_OK)
                return apm_failed(s, "FW_CONFIRM APM", st);
            msg("firmware job %llu: APM %s confirmed on the APM (svn fuse %u)",
                (unsigned long long)s->o->job_id, s->o->version, svn);
        }
        report(s, DH_FW_CONFIRMED, NULL);
        forget_job(s->c);
        return 0;
    }
    if (fs->trial == DROT_LINK_FW_TRIAL_PENDING &&
        drot_ct_equal(other->digest, s->o->digest, 32) == DROT_OK && other->status == 0) {
        note_job(s->c, s->o);
        if ((st = dh_fw_activate(d, DROT_LINK_FW_ACTIVATE_TRIAL, &reset)) != DH_OK)
            return apm_failed(s, "FW_ACTIVATE", st);
        remeasure_host(s);
        msg("firmware job %llu: APM %s on trial (test boot); it is confirmed after a PASS on it",
            (unsigned long long)s->o->job_id, s->o->version);
        report(s, DH_FW_INSTALLED, NULL);
        *again = true;
        return 0;
    }
    if (fs->trial != DROT_LINK_FW_TRIAL_NONE) { /* another image's trial: it gives way */
        if ((st = dh_fw_activate(d, DROT_LINK_FW_ACTIVATE_ABORT, &reset)) != DH_OK)
            return apm_failed(s, "FW_ACTIVATE abort", st);
        if (reset)
            remeasure_host(s);
        msg("firmware job %llu: dropped the APM's trial of another image", (unsigned long long)s->o->job_id);
    }
    char path[4300], why[400];
    int rc = fetch(s, path, sizeof path);
    if (rc != 0)
        return rc;
    st = install(s, path, why, sizeof why);
    if (st == DH_E_REFUSED) {
        msg("firmware job %llu: the APM refused APM %s: %s", (unsigned long long)s->o->job_id, s->o->version,
            why);
        report(s, DH_FW_FAILED, why);
        unlink(path);
        return 0;
    }
    if (st != DH_OK)
        return failf(s, st == DH_E_IO ? EXIT_FAILED : EXIT_UNREACHABLE, "install: %s", why);
    unlink(path); /* the APM has it now */
    note_job(s->c, s->o);
    if ((st = dh_fw_activate(d, DROT_LINK_FW_ACTIVATE_TRIAL, &reset)) != DH_OK)
        return apm_failed(s, "FW_ACTIVATE", st);
    remeasure_host(s);
    msg("firmware job %llu: APM %s staged and on trial (test boot)", (unsigned long long)s->o->job_id,
        s->o->version);
    report(s, DH_FW_INSTALLED, NULL);
    *again = true;
    return 0;
}

/* ---- host boot stages: DIR/A, DIR/B, DIR/current
 * ------------------------------------------------------------ */

/* "A" or "B": where DIR/current points ("A" when it does not exist yet). */
static char current_set(const char *dir)
{
    char link[4200], to[8];
    snprintf(link, sizeof link, "%s/current", dir);
    ssize_t n = readlink(link, to, sizeof to - 1);
    return n == 1 && to[0] == 'B' ? 'B' : 'A';
}

static bool file_digest(const char *path, uint8_t out[32], uint64_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    drot_sha256_ctx h;
    static uint8_t buf[65536];
    bool ok = drot_sha256_init(&h) == DROT_OK;
    uint64_t total = 0;
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            ok = false;
        if (r <= 0)
            break;
        ok = ok && drot_sha256_update(&h, buf, (size_t)r) == DROT_OK;
        total += (uint64_t)r;
    }
    ok = ok && drot_sha256_final(&h, out) == DROT_OK;
    drot_sha256_release(&h);
    close(fd);
    *size = total;
    return ok;
}

static int copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    int out = in < 0 ? -1 : open(to, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    static uint8_t buf[65536];
    int rc = in >= 0 && out >= 0 ? 0 : -1;
    while (rc == 0) {
        ssize_t r = read(in, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = r < 0 ? -1 : 0;
            break;
        }
        for (ssize_t w = 0; rc == 0 && w < r;) {
            ssize_t k = write(out, buf + w, (size_t)(r - w));
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0)
                rc = -1;
            else
                w += k;
        }
    }
    if (out >= 0 && fsync(out) != 0)
        rc = -1;
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) != 0)
        rc = -1;
    return rc;
}

static int write_bytes(const char *path, const uint8_t *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    bool ok = write(fd, p, n) == (ssize_t)n && fsync(fd) == 0;
    return close(fd) == 0 && ok ? 0 : -1;
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* The inactive set becomes the current one's stages with image in place of
 * the component's, then DIR/current points to it. */
static int stage_host(step *s, const char *image)
{
    const char *dir = s->c->host_fw;
    char cur = current_set(dir), next = cur == 'A' ? 'B' : 'A';
    char cdir[4200], ndir[4200], from[4600], to[4600];
    snprintf(cdir, sizeof cdir, "%s/%c", dir, cur);
    snprintf(ndir, sizeof ndir, "%s/%c", dir, next);
    if ((mkdir(dir, 0755) != 0 && errno != EEXIST) || (mkdir(cdir, 0755) != 0 && errno != EEXIST) ||
        (mkdir(ndir, 0755) != 0 && errno != EEXIST))
        return failf(s, EXIT_FAILED, "--host-fw %s: cannot create A and B: %s", dir, strerror(errno));
    /* empty the inactive set, then copy the current set's other stages */
    DIR *dp = opendir(ndir);
    struct dirent *e;
    while (dp != NULL && (e = readdir(dp)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(to, sizeof to, "%s/%s", ndir, e->d_name);
        unlink(to);
    }
    if (dp != NULL)
        closedir(dp);
    size_t cl = strlen(s->o->component);
    dp = opendir(cdir);
    while (dp != NULL && (e = readdir(dp)) != NULL) {
        if (e->d_name[0] == '.' || (strncmp(e->d_name, s->o->component, cl) == 0 && e->d_name[cl] == '.'))
            continue;
        snprintf(from, sizeof from, "%s/%s", cdir, e->d_name);
        snprintf(to, sizeof to, "%s/%s", ndir, e->d_name);
        if (copy_file(from, to) != 0) {
            closedir(dp);
            return failf(s, EXIT_FAILED, "cannot copy %s to %s: %s", from, to, strerror(errno));
        }
    }
    if (dp != NULL)
        closedir(dp);
    snprintf(to, sizeof to, "%s/%s.img", ndir, s->o->component);
    if (copy_file(image, to) != 0)
        return failf(s, EXIT_FAILED, "cannot write %s: %s", to, strerror(errno));
    snprintf(to, sizeof to, "%s/%s.cose", ndir, s->o->component);
    if (write_bytes(to, s->o->manifest, s->o->manifest_len) != 0)
        return failf(s, EXIT_FAILED, "cannot write %s: %s", to, strerror(errno));
    fsync_dir(ndir);
    /* the switch: a new symlink renamed over the old one (atomic) */
    char link[4200], tmp[4220], target[2] = {next, '\0'};
    snprintf(link, sizeof link, "%s/current", dir);
    snprintf(tmp, sizeof tmp, "%s/current.tmp", dir);
    unlink(tmp);
    if (symlink(target, tmp) != 0 || rename(tmp, link) != 0)
        return failf(s, EXIT_FAILED, "cannot switch %s to %s: %s", link, target, strerror(errno));
    fsync_dir(dir);
    msg("firmware job %llu: %s %s staged in %s, now %s/current: the host's next boot runs it",
        (unsigned long long)s->o->job_id, s->o->component, s->o->version, ndir, dir);
    return 0;
}

/* The APM's test boot emptied its measurement table, but the host kept
 * running: its current stages (DIR/current, in boot order) are measured
 * again, each verified against its manifest first, so that attestations
 * on the trial show what the host runs. */
static void remeasure_host(step *s)
{
    static const char *const stages[] = {"HOST-BL", "HOST-OS"};
    for (size_t i = 0; s->c->host_fw != NULL && i < sizeof stages / sizeof stages[0]; i++) {
        char img[4400], man[4400];
        snprintf(img, sizeof img, "%s/current/%s.img", s->c->host_fw, stages[i]);
        snprintf(man, sizeof man, "%s/current/%s.cose", s->c->host_fw, stages[i]);
        int fd = open(man, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        uint8_t *m = NULL;
        size_t mlen = 0;
        int r = read_bounded(fd, DROT_LINK_FW_MANIFEST_MAX, &m, &mlen);
        close(fd);
        if (r != 0) {
            msg("firmware: %s: unreadable or larger than %u bytes: %s is not measured again", man,
                DROT_LINK_FW_MANIFEST_MAX, stages[i]);
            continue;
        }
        drot_link_fw_image seen;
        uint32_t index = 0;
        dh_status st = dh_measure_verified(s->c->a->driver, m, mlen, img, &seen, &index);
        free(m);
        if (st != DH_OK)
            msg("firmware: measuring %s again after the APM's test boot: %s", img,
                dh_driver_last_error(s->c->a->driver));
    }
}

static int host_step(step *s, const drot_link_fw_status *fs)
{
    dh_driver *d = s->c->a->driver;
    if (s->c->host_fw == NULL) { /* not this agent's to do: by hand, or the deadline */
        msg("firmware job %llu: %s %s is offered, but this agent has no --host-fw DIR for host boot stages: "
            "carry it out by hand (drot-agent fw fetch, fw install, fw report) or give --host-fw",
            (unsigned long long)s->o->job_id, s->o->component, s->o->version);
        return 0;
    }
    /* Does this boot run it? The last measurement of the component (a boot
     * stage measures itself once per boot). */
    drot_link_info info;
    dh_status st = dh_get_info(d, &info);
    if (st != DH_OK)
        return apm_failed(s, "GET_INFO", st);
    const drot_link_measurement *m = NULL;
    for (size_t i = 0; i < info.num_measurements && i < DROT_LINK_MAX_MEASUREMENTS; i++)
        if (text_is(info.measurements[i].type, info.measurements[i].type_len, s->o->component))
            m = &info.measurements[i];
    if (m != NULL && drot_ct_equal(m->digest, s->o->digest, 32) == DROT_OK) {
        for (size_t i = 0; i < fs->num_pending && i < DROT_LINK_FW_PENDING_MAX; i++) {
            const drot_link_fw_image *p = &fs->pending[i];
            if (!text_is(p->component, p->component_len, s->o->component) ||
                drot_ct_equal(p->digest, s->o->digest, 32) != DROT_OK)
                continue;
            uint32_t svn = 0;
            if ((st = dh_fw_confirm(d, s->o->component, &svn)) != DH_OK)
                return apm_failed(s, "FW_CONFIRM", st);
            msg("firmware job %llu: %s %s confirmed on the APM (svn fuse %u)",
                (unsigned long long)s->o->job_id, s->o->component, s->o->version, svn);
        }
        report(s, DH_FW_CONFIRMED, NULL);
        return 0;
    }
    char cur[4400];
    uint8_t dg[32];
    uint64_t size = 0;
    snprintf(cur, sizeof cur, "%s/current/%s.img", s->c->host_fw, s->o->component);
    if (file_digest(cur, dg, &size) && size == s->o->size && drot_ct_equal(dg, s->o->digest, 32) == DROT_OK) {
        report(s, DH_FW_INSTALLED, NULL); /* staged: waiting for the host's next boot */
        return 0;
    }
    char path[4300], why[400];
    int rc = fetch(s, path, sizeof path);
    if (rc != 0)
        return rc;
    st = install(s, path, why, sizeof why);
    if (st == DH_E_REFUSED) {
        msg("firmware job %llu: the APM refused %s %s: %s", (unsigned long long)s->o->job_id, s->o->component,
            s->o->version, why);
        report(s, DH_FW_FAILED, why);
        unlink(path);
        return 0;
    }
    if (st != DH_OK)
        return failf(s, st == DH_E_IO ? EXIT_FAILED : EXIT_UNREACHABLE, "install: %s", why);
    if ((rc = stage_host(s, path)) != 0)
        return rc;
    unlink(path);
    report(s, DH_FW_INSTALLED, NULL);
    return 0;
}

/* ---- the entry points
 * ---------------------------------------------------------------------------------------------- */

/* see agent.h */
int fw_loop_step(const fw_loop *c, const dh_server_verdict *v, bool *again, char *err, size_t cap)
{
    *again = false;
    drot_link_fw_status fs;
    dh_driver *d = c->a->driver;
    uint64_t noted = 0;
    uint8_t nd[32];
    bool have_note = read_note(c, &noted, nd);
    if (!v->has_fw && (v->verdict == 1 || !have_note))
        return 0; /* nothing to do; a trial with a PASS but no job is left to revert at the next reset */
    dh_status st = dh_fw_status(d, &fs);
    if (st != DH_OK) {
        snprintf(err, cap, "FW_STATUS: %s", dh_driver_last_error(d));
        return st == DH_E_CONNECT || st == DH_E_TIMEOUT ? EXIT_UNREACHABLE : EXIT_FAILED;
    }
    dh_server *srv = NULL;
    if (dh_server_open(&srv, c->so) != DH_OK) {
        snprintf(err, cap, "cannot set up the server client");
        return EXIT_FAILED;
    }
    int rc = 0;
    if (!v->has_fw) {
        /* Not a PASS: a trial of the noted job is not confirmed; back to the old slot. */
        const drot_link_fw_slot *run = &fs.slots[fs.running & 1];
        if (fs.trial == DROT_LINK_FW_TRIAL_TRYING && drot_ct_equal(run->digest, nd, 32) == DROT_OK) {
            bool reset = false;
            dh_server_fw_offer o;
            memset(&o, 0, sizeof o);
            o.job_id = noted;
            step s = {c, srv, &o, err, cap};
            if ((st = dh_fw_activate(d, DROT_LINK_FW_ACTIVATE_ABORT, &reset)) != DH_OK) {
                rc = apm_failed(&s, "FW_ACTIVATE abort", st);
            } else {
                if (reset)
                    remeasure_host(&s);
                char why[512];
                snprintf(why, sizeof why, "the attestation on the new APM image was %s%s%s",
                         v->verdict == 2 ? "WARN" : "FAIL", v->num_reasons > 0 ? ": " : "",
                         v->num_reasons > 0 ? v->reasons[0] : "");
                msg("firmware job %llu: %s; the trial was aborted", (unsigned long long)noted, why);
                report(&s, DH_FW_FAILED, why);
                forget_job(c);
            }
        }
        dh_server_close(srv);
        return rc;
    }
    step s = {c, srv, &v->fw, err, cap};
    if (strcmp(v->fw.component, "APM") == 0)
        rc = apm_step(&s, &fs, again);
    else if (strcmp(v->fw.component, "HOST-BL") == 0 || strcmp(v->fw.component, "HOST-OS") == 0)
        rc = host_step(&s, &fs);
    else {
        report(&s, DH_FW_FAILED, "this agent does not know the component");
        rc = failf(&s, EXIT_FAILED, "job %llu: component %s is not one this agent installs",
                   (unsigned long long)v->fw.job_id, v->fw.component);
    }
    dh_server_close(srv);
    return rc;
}
