/*
 * sim_hal.h — the simulated APM hardware (host code: OS and malloc allowed).
 *
 * Fuses and flash live in two files of a state directory, otp.bin and
 * flash.bin, loaded at open and written through on every write (pwrite of
 * the changed range; the sim models the device losing power, not the host
 * OS crashing, so no fsync). The tamper sensors are values the test or the
 * control socket sets. The TRNG is getrandom(2). The link is a file
 * descriptor (a connected UNIX socket).
 *
 * Power-cut injector: after apm_sim_cut_after(sim, n, torn), the n-th write
 * from then on (1-based; otp_write, flash_erase and flash_program each
 * count, apm_hal.h P1) is the last: with torn false it completes and every
 * later write fails with APM_HAL_E_POWER; with torn true it is itself cut
 * short (P2: the first half of its bytes, rounded down) and returns
 * APM_HAL_E_POWER. A test then "reboots" by closing and reopening the
 * state directory and booting a fresh core on it.
 */
#ifndef APM_SIM_HAL_H
#define APM_SIM_HAL_H

#include <stdbool.h>
#include <stdint.h>

#include "apm_hal.h"

#define APM_SIM_OTP_SIZE    0x100u
#define APM_SIM_SECTOR_SIZE 4096u
#define APM_SIM_SECTORS     64u

typedef struct apm_sim {
    apm_hal hal;
    int otp_fd, flash_fd;
    uint8_t otp[APM_SIM_OTP_SIZE];
    uint8_t *flash; /* APM_SIM_SECTORS * APM_SIM_SECTOR_SIZE bytes */
    long writes;    /* writes since open */
    long cut_at;    /* absolute write number of the cut; 0 = none */
    bool cut_torn;
    bool powered; /* false once the cut has happened */
    apm_tamper_sensors sensors;
    int link_fd; /* -1 when no host is connected */
    char dir[512];
} apm_sim;

/* Opens (create: creates blank otp.bin and flash.bin first, refusing to
 * overwrite existing ones) the state directory. 0, or -1 with a message in
 * err[0..err_cap). */
int apm_sim_open(apm_sim *sim, const char *dir, bool create, char *err, size_t err_cap);
void apm_sim_close(apm_sim *sim);

/* Arms the power-cut injector (see above); n ≤ 0 disarms it. */
void apm_sim_cut_after(apm_sim *sim, long n, bool torn);

/* Parses "N" or "N:torn" (the DROT_SIM_POWER_CUT environment variable) and
 * arms the injector; 0 on success, -1 on a malformed value. */
int apm_sim_cut_from_string(apm_sim *sim, const char *spec);

/* Nominal readings: 3300 mV, 25 °C, no intrusion. */
void apm_sim_set_sensors(apm_sim *sim, const apm_tamper_sensors *s);
void apm_sim_set_link(apm_sim *sim, int fd);

#endif /* APM_SIM_HAL_H */
