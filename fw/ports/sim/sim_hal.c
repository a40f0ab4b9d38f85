/*
 * sim_hal.c — the simulated APM hardware (see sim_hal.h). Host code.
 *
 * State files (in the state directory):
 *   otp.bin    exactly APM_SIM_OTP_SIZE bytes, all 0x00 when new
 *   flash.bin  exactly APM_SIM_SECTORS * APM_SIM_SECTOR_SIZE bytes, all 0xFF when new
 * Any other size is refused at open with a message naming the file and both
 * sizes; open only reads, so a bad state file changes nothing.
 *
 * Every write is checked first (range, OTP clear-bit, NOR erased-bytes); a
 * refused write changes nothing and is NOT counted by the injector (it does
 * not reach the cells). An accepted write is counted, applied to the RAM
 * image, and written through with pwrite of the changed range.
 *
 * Power-cut injector (apm_hal.h P1–P3): when the write count reaches
 * cut_at the write is the last one: clean, it completes and returns OK;
 * torn, only its first half (len / 2 bytes, rounded down; for an erase, the
 * first half of the sector) reaches the cells and it returns
 * APM_HAL_E_POWER. From then on every write returns APM_HAL_E_POWER without
 * being counted; reads keep working (P5).
 */
#define _DEFAULT_SOURCE 1

#include "sim_hal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SIM_FLASH_SIZE ((size_t)APM_SIM_SECTORS * APM_SIM_SECTOR_SIZE)

static bool in_range(uint32_t off, uint32_t len, size_t size)
{
    return (size_t)off <= size && (size_t)len <= size - (size_t)off;
}

/* Counts one accepted write and applies the injector. Returns the number of
 * bytes of the write that reach the cells (len, or len / 2 when torn) and
 * sets *st to the status the write returns. */
static uint32_t sim_count_write(apm_sim *sim, uint32_t len, apm_hal_status *st)
{
    sim->writes++;
    *st = APM_HAL_OK;
    if (sim->cut_at > 0 && sim->writes == sim->cut_at) {
        sim->powered = false;
        if (sim->cut_torn) {
            *st = APM_HAL_E_POWER;
            return len / 2u;
        }
    }
    return len;
}

static apm_hal_status sim_pwrite(int fd, const uint8_t *buf, size_t len, size_t off)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, buf, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return APM_HAL_E_IO;
        buf += n;
        off += (size_t)n;
        len -= (size_t)n;
    }
    return APM_HAL_OK;
}

static apm_hal_status sim_otp_read(void *ctx, uint32_t off, uint8_t *buf, uint32_t len)
{
    apm_sim *sim = ctx;
    if (!in_range(off, len, APM_SIM_OTP_SIZE) || (buf == NULL && len > 0))
        return APM_HAL_E_RANGE;
    if (len > 0)
        memcpy(buf, sim->otp + off, len);
    return APM_HAL_OK;
}

static apm_hal_status sim_otp_write(void *ctx, uint32_t off, const uint8_t *value, uint32_t len)
{
    apm_sim *sim = ctx;
    if (!sim->powered)
        return APM_HAL_E_POWER;
    if (!in_range(off, len, APM_SIM_OTP_SIZE) || (value == NULL && len > 0))
        return APM_HAL_E_RANGE;
    for (uint32_t i = 0; i < len; i++) {
        if ((sim->otp[off + i] & (uint8_t)~value[i]) != 0)
            return APM_HAL_E_OTP_CLEAR;
    }
    apm_hal_status st;
    uint32_t n = sim_count_write(sim, len, &st);
    if (n > 0) {
        memcpy(sim->otp + off, value, n);
        if (sim_pwrite(sim->otp_fd, sim->otp + off, n, off) != APM_HAL_OK)
            return APM_HAL_E_IO;
    }
    return st;
}

static apm_hal_status sim_flash_read(void *ctx, uint32_t off, uint8_t *buf, uint32_t len)
{
    apm_sim *sim = ctx;
    if (!in_range(off, len, SIM_FLASH_SIZE) || (buf == NULL && len > 0))
        return APM_HAL_E_RANGE;
    if (len > 0)
        memcpy(buf, sim->flash + off, len);
    return APM_HAL_OK;
}

static apm_hal_status sim_flash_erase(void *ctx, uint32_t sector)
{
    apm_sim *sim = ctx;
    if (!sim->powered)
        return APM_HAL_E_POWER;
    if (sector >= APM_SIM_SECTORS)
        return APM_HAL_E_RANGE;
    size_t off = (size_t)sector * APM_SIM_SECTOR_SIZE;
    apm_hal_status st;
    uint32_t n = sim_count_write(sim, APM_SIM_SECTOR_SIZE, &st);
    if (n > 0) {
        memset(sim->flash + off, 0xFF, n);
        if (sim_pwrite(sim->flash_fd, sim->flash + off, n, off) != APM_HAL_OK)
            return APM_HAL_E_IO;
    }
    return st;
}

static apm_hal_status sim_flash_program(void *ctx, uint32_t off, const uint8_t *buf, uint32_t len)
{
    apm_sim *sim = ctx;
    if (!sim->powered)
        return APM_HAL_E_POWER;
    if (!in_range(off, len, SIM_FLASH_SIZE) || (buf == NULL && len > 0))
        return APM_HAL_E_RANGE;
    for (uint32_t i = 0; i < len; i++) {
        if (sim->flash[off + i] != 0xFF)
            return APM_HAL_E_NOT_ERASED;
    }
    apm_hal_status st;
    uint32_t n = sim_count_write(sim, len, &st);
    if (n > 0) {
        memcpy(sim->flash + off, buf, n);
        if (sim_pwrite(sim->flash_fd, sim->flash + off, n, off) != APM_HAL_OK)
            return APM_HAL_E_IO;
    }
    return st;
}

static apm_hal_status sim_trng(void *ctx, uint8_t *buf, uint32_t len)
{
    (void)ctx;
    while (len > 0) {
        ssize_t n = getrandom(buf, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return APM_HAL_E_RNG;
        buf += n;
        len -= (uint32_t)n;
    }
    return APM_HAL_OK;
}

static uint64_t sim_tick_ms(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static apm_hal_status sim_tamper_read(void *ctx, apm_tamper_sensors *out)
{
    apm_sim *sim = ctx;
    if (out == NULL)
        return APM_HAL_E_RANGE;
    *out = sim->sensors;
    sim->sensors.intrusion = false; /* the latch clears once read */
    return APM_HAL_OK;
}

static apm_hal_status sim_link_read(void *ctx, uint8_t *buf, uint32_t len, uint32_t timeout_ms)
{
    apm_sim *sim = ctx;
    if (sim->link_fd < 0)
        return APM_HAL_E_LINK;
    int timeout = timeout_ms > (uint32_t)INT32_MAX ? INT32_MAX : (int)timeout_ms;
    while (len > 0) {
        struct pollfd p = {.fd = sim->link_fd, .events = POLLIN};
        int r = poll(&p, 1, timeout);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return APM_HAL_E_LINK;
        if (r == 0)
            return APM_HAL_E_TIMEOUT;
        ssize_t n = read(sim->link_fd, buf, len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            return APM_HAL_E_LINK;
        buf += n;
        len -= (uint32_t)n;
    }
    return APM_HAL_OK;
}

static apm_hal_status sim_link_write(void *ctx, const uint8_t *buf, uint32_t len)
{
    apm_sim *sim = ctx;
    if (sim->link_fd < 0)
        return APM_HAL_E_LINK;
    while (len > 0) {
        ssize_t n = send(sim->link_fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == ENOTSOCK)
            n = write(sim->link_fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return APM_HAL_E_LINK;
        buf += n;
        len -= (uint32_t)n;
    }
    return APM_HAL_OK;
}

static void set_err(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t cap, const char *fmt, ...)
{
    if (err == NULL || cap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

/* Creates path with n bytes of fill, refusing an existing file. */
static int create_file(const char *path, uint8_t fill, size_t n, char *err, size_t cap)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        set_err(err, cap, "%s: cannot create (%s)", path, strerror(errno));
        return -1;
    }
    uint8_t block[4096];
    memset(block, fill, sizeof block);
    size_t done = 0;
    while (done < n) {
        size_t k = n - done < sizeof block ? n - done : sizeof block;
        if (sim_pwrite(fd, block, k, done) != APM_HAL_OK) {
            set_err(err, cap, "%s: write failed (%s)", path, strerror(errno));
            close(fd);
            unlink(path);
            return -1;
        }
        done += k;
    }
    close(fd);
    return 0;
}

/* Opens path read-write, checks its size is exactly want, reads it into buf. */
static int load_file(const char *path, uint8_t *buf, size_t want, int *fd_out, char *err, size_t cap)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        set_err(err, cap, "%s: cannot open (%s)", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        set_err(err, cap, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    if ((uintmax_t)st.st_size != (uintmax_t)want) {
        set_err(err, cap,
                "%s: bad state file size: %jd bytes, expected exactly %zu (refused, nothing changed)", path,
                (intmax_t)st.st_size, want);
        close(fd);
        return -1;
    }
    size_t done = 0;
    while (done < want) {
        ssize_t n = pread(fd, buf + done, want - done, (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            set_err(err, cap, "%s: read failed", path);
            close(fd);
            return -1;
        }
        done += (size_t)n;
    }
    *fd_out = fd;
    return 0;
}

/* see sim_hal.h */
int apm_sim_open(apm_sim *sim, const char *dir, bool create, char *err, size_t err_cap)
{
    char otp_path[600], flash_path[600];
    if (err != NULL && err_cap > 0)
        err[0] = '\0';
    if (sim == NULL || dir == NULL) {
        set_err(err, err_cap, "apm_sim_open: no simulator or directory");
        return -1;
    }
    memset(sim, 0, sizeof *sim);
    sim->otp_fd = sim->flash_fd = sim->link_fd = -1;
    if (strlen(dir) >= sizeof sim->dir) {
        set_err(err, err_cap, "%s: state directory path too long", dir);
        return -1;
    }
    snprintf(sim->dir, sizeof sim->dir, "%s", dir);
    snprintf(otp_path, sizeof otp_path, "%s/otp.bin", dir);
    snprintf(flash_path, sizeof flash_path, "%s/flash.bin", dir);

    if (create) {
        if (access(otp_path, F_OK) == 0 || access(flash_path, F_OK) == 0) {
            set_err(err, err_cap, "%s: state files already exist, refusing to overwrite them", dir);
            return -1;
        }
        if (create_file(otp_path, 0x00, APM_SIM_OTP_SIZE, err, err_cap) != 0)
            return -1;
        if (create_file(flash_path, 0xFF, SIM_FLASH_SIZE, err, err_cap) != 0) {
            unlink(otp_path);
            return -1;
        }
    }

    sim->flash = malloc(SIM_FLASH_SIZE);
    if (sim->flash == NULL) {
        set_err(err, err_cap, "%s: out of memory", dir);
        return -1;
    }
    if (load_file(otp_path, sim->otp, APM_SIM_OTP_SIZE, &sim->otp_fd, err, err_cap) != 0 ||
        load_file(flash_path, sim->flash, SIM_FLASH_SIZE, &sim->flash_fd, err, err_cap) != 0) {
        apm_sim_close(sim);
        return -1;
    }

    sim->powered = true;
    sim->sensors = (apm_tamper_sensors){.supply_mv = 3300, .temp_mc = 25000, .intrusion = false};
    sim->hal = (apm_hal){
        .version = APM_HAL_VERSION,
        .ctx = sim,
        .otp_size = APM_SIM_OTP_SIZE,
        .flash_sector_size = APM_SIM_SECTOR_SIZE,
        .flash_sectors = APM_SIM_SECTORS,
        .otp_read = sim_otp_read,
        .otp_write = sim_otp_write,
        .flash_read = sim_flash_read,
        .flash_erase = sim_flash_erase,
        .flash_program = sim_flash_program,
        .trng = sim_trng,
        .tick_ms = sim_tick_ms,
        .tamper_read = sim_tamper_read,
        .link_read = sim_link_read,
        .link_write = sim_link_write,
    };
    return 0;
}

/* see sim_hal.h */
void apm_sim_close(apm_sim *sim)
{
    if (sim == NULL)
        return;
    if (sim->otp_fd >= 0)
        close(sim->otp_fd);
    if (sim->flash_fd >= 0)
        close(sim->flash_fd);
    free(sim->flash);
    /* The link fd belongs to whoever set it (apm_sim_set_link). */
    memset(sim, 0, sizeof *sim);
    sim->otp_fd = sim->flash_fd = sim->link_fd = -1;
}

/* see sim_hal.h */
void apm_sim_cut_after(apm_sim *sim, long n, bool torn)
{
    if (n <= 0) {
        sim->cut_at = 0;
        sim->cut_torn = false;
        return;
    }
    sim->cut_at = sim->writes + n;
    sim->cut_torn = torn;
}

/* see sim_hal.h */
int apm_sim_cut_from_string(apm_sim *sim, const char *spec)
{
    if (sim == NULL || spec == NULL || spec[0] < '0' || spec[0] > '9')
        return -1;
    errno = 0;
    char *end = NULL;
    long n = strtol(spec, &end, 10);
    if (errno != 0 || end == spec || n < 0)
        return -1;
    bool torn = false;
    if (strcmp(end, ":torn") == 0)
        torn = true;
    else if (*end != '\0')
        return -1;
    apm_sim_cut_after(sim, n, torn);
    return 0;
}

/* see sim_hal.h */
void apm_sim_set_sensors(apm_sim *sim, const apm_tamper_sensors *s)
{
    bool latched = sim->sensors.intrusion || s->intrusion;
    sim->sensors = *s;
    sim->sensors.intrusion = latched;
}

/* see sim_hal.h */
void apm_sim_set_link(apm_sim *sim, int fd)
{
    sim->link_fd = fd;
}
