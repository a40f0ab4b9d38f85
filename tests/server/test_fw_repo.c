/*
 * test_fw_repo.c — the firmware repository (server/src/firmware.h): images
 * uploaded in chunks and releases, on SQLite and PostgreSQL (CTest runs it
 * twice: tests/cmake/firmware_store.cmake).
 *
 *   1. an image of three chunks uploaded out of order, a chunk sent twice
 *      (resume), then complete; its ranges read back across chunk bounds
 *   2. bad chunks refused with nothing written: wrong length, index beyond
 *      the image, size 0 or over 16 MiB, another size for the same digest
 *   3. bytes that do not hash to the address: the whole upload is discarded
 *      at the last chunk; a complete image refuses a changed chunk
 *   4. discard of an unfinished upload; a complete one is not discarded
 *   5. reads: only complete images, only ranges inside them
 *   6. publish: a good manifest; the same again (idempotent); another
 *      content for the same version refused; nothing written on refusals
 *   7. publish refused: unknown signer, no anchors, garbage, truncated,
 *      a manifest of another kind, image missing or unfinished, size
 *      mismatch
 *   8. list and find; fw_store_check on a good store and on an image whose
 *      chunks were changed behind its back
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "drot/authority.h"
#include "drot_crypto.h"
#include "fw_fixture.h"

#define ACTOR "operator:test"

static ds_status put(fx *f, const uint8_t *d, uint32_t size, uint32_t idx, const uint8_t *data, size_t len)
{
    return fw_image_put_chunk(f->s, d, size, idx, data, len, ACTOR, T0, NULL);
}

typedef struct collect {
    uint8_t *buf;
    size_t n;
    size_t calls;
} collect;

static int collect_cb(const uint8_t *p, size_t n, void *ctx)
{
    collect *c = ctx;
    memcpy(c->buf + c->n, p, n);
    c->n += n;
    c->calls++;
    return 0;
}

/* Test 1. */
static void test_upload_and_read(void **state)
{
    fx *f = *state;
    uint32_t size = 2 * FW_CHUNK_SIZE + 1000;
    uint8_t d[32];
    uint8_t *img = fwx_image(1, size, d);
    fw_image im;
    assert_int_equal(fw_image_put_chunk(f->s, d, size, 2, img + 2 * FW_CHUNK_SIZE, 1000, ACTOR, T0, &im),
                     DS_OK);
    assert_false(im.complete);
    assert_int_equal(im.n_chunks, 3);
    assert_int_equal(im.have, 1);
    assert_int_equal(put(f, d, size, 0, img, FW_CHUNK_SIZE), DS_OK);
    assert_int_equal(put(f, d, size, 0, img, FW_CHUNK_SIZE), DS_OK); /* resumed: sent again */
    assert_int_equal(fw_image_get(f->s, d, &im), DS_OK);
    assert_int_equal(im.have, 2);
    assert_true(im.have_mask[0] == 0x5);
    assert_false(im.complete);
    assert_int_equal(
        fw_image_put_chunk(f->s, d, size, 1, img + FW_CHUNK_SIZE, FW_CHUNK_SIZE, ACTOR, T0 + 5, &im), DS_OK);
    assert_true(im.complete);
    assert_int_equal(im.completed_at, T0 + 5);
    assert_string_equal(im.created_by, ACTOR);
    assert_int_equal(put(f, d, size, 1, img + FW_CHUNK_SIZE, FW_CHUNK_SIZE),
                     DS_OK); /* idempotent when complete */

    uint8_t *buf = malloc(size);
    assert_non_null(buf);
    static const uint64_t ranges[][2] = {{0, 1},
                                         {FW_CHUNK_SIZE - 10, 20},
                                         {100, 2 * FW_CHUNK_SIZE + 900},
                                         {2 * FW_CHUNK_SIZE + 999, 1},
                                         {0, 2 * FW_CHUNK_SIZE + 1000}};
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        collect c = {buf, 0, 0};
        assert_int_equal(fw_image_read(f->s, d, ranges[i][0], ranges[i][1], collect_cb, &c), DS_OK);
        assert_int_equal(c.n, ranges[i][1]);
        assert_memory_equal(buf, img + ranges[i][0], ranges[i][1]);
    }
    free(buf);
    free(img);
    assert_int_equal(fw_store_check(f->s), DS_OK);
    /* the upload's beginning and end are in the audit log, not each chunk */
    assert_int_equal(fwx_audited(f, "firmware.upload_begin", ACTOR), 1);
    assert_int_equal(fwx_audited(f, "firmware.upload_complete", ACTOR), 1);
    assert_int_equal(fwx_rows(f, "audit_log"), 2);
    fwx_audit_ok(f);
}

/* Test 2. */
static void test_bad_chunks(void **state)
{
    fx *f = *state;
    uint32_t size = FW_CHUNK_SIZE + 10;
    uint8_t d[32];
    uint8_t *img = fwx_image(2, size, d);
    assert_int_equal(put(f, d, size, 0, img, FW_CHUNK_SIZE - 1), DS_E_ARG); /* short */
    assert_int_equal(put(f, d, size, 1, img, 11), DS_E_ARG);                /* last chunk too long */
    assert_int_equal(put(f, d, size, 2, img, 10), DS_E_ARG);                /* beyond the image */
    assert_non_null(strstr(ds_store_error(f->s), "chunks 0..1"));
    assert_int_equal(put(f, d, 0, 0, img, 0), DS_E_ARG);
    assert_int_equal(put(f, d, FW_IMAGE_MAX + 1, 0, img, FW_CHUNK_SIZE), DS_E_ARG);
    assert_int_equal(fw_image_put_chunk(f->s, d, size, 0, img, FW_CHUNK_SIZE, "", T0, NULL), DS_E_ARG);
    assert_int_equal(fw_image_put_chunk(f->s, d, size, 0, img, FW_CHUNK_SIZE, "bad\nactor", T0, NULL),
                     DS_E_ARG);
    assert_int_equal(fw_image_put_chunk(f->s, d, size, 0, NULL, FW_CHUNK_SIZE, ACTOR, T0, NULL), DS_E_ARG);
    assert_int_equal(fwx_rows(f, "firmware_images"), 0);
    assert_int_equal(fwx_rows(f, "firmware_image_chunks"), 0);
    assert_int_equal(fwx_rows(f, "audit_log"), 0);
    /* one chunk in; the same digest with another size is refused */
    assert_int_equal(put(f, d, size, 0, img, FW_CHUNK_SIZE), DS_OK);
    assert_int_equal(put(f, d, size + 1, 1, img + FW_CHUNK_SIZE, 11), DS_E_CONFLICT);
    assert_non_null(strstr(ds_store_error(f->s), "in progress"));
    assert_int_equal(fwx_rows(f, "firmware_image_chunks"), 1);
    free(img);
}

/* Test 3. */
static void test_hash_mismatch(void **state)
{
    fx *f = *state;
    uint32_t size = FW_CHUNK_SIZE + 100;
    uint8_t d[32];
    uint8_t *img = fwx_image(3, size, d);
    assert_int_equal(put(f, d, size, 0, img, FW_CHUNK_SIZE), DS_OK);
    img[FW_CHUNK_SIZE + 7] ^= 1; /* one flipped bit in the last chunk */
    assert_int_equal(put(f, d, size, 1, img + FW_CHUNK_SIZE, 100), DS_E_CONFLICT);
    assert_non_null(strstr(ds_store_error(f->s), "the upload was discarded"));
    assert_int_equal(fwx_audited(f, "firmware.upload_rejected", ACTOR), 1); /* committed with the deletion */
    assert_int_equal(fwx_rows(f, "firmware_images"), 0);
    assert_int_equal(fwx_rows(f, "firmware_image_chunks"), 0);
    fw_image im;
    assert_int_equal(fw_image_get(f->s, d, &im), DS_E_NOT_FOUND);
    /* a wrong chunk replaced before the end is fine: the final hash decides */
    assert_int_equal(put(f, d, size, 1, img + FW_CHUNK_SIZE, 100), DS_OK);
    img[FW_CHUNK_SIZE + 7] ^= 1;
    assert_int_equal(put(f, d, size, 1, img + FW_CHUNK_SIZE, 100), DS_OK);
    assert_int_equal(fw_image_put_chunk(f->s, d, size, 0, img, FW_CHUNK_SIZE, ACTOR, T0, &im), DS_OK);
    assert_true(im.complete);
    /* complete: a changed chunk is refused and nothing changes */
    img[0] ^= 1;
    assert_int_equal(put(f, d, size, 0, img, FW_CHUNK_SIZE), DS_E_CONFLICT);
    img[0] ^= 1;
    uint8_t first = 0;
    collect c = {&first, 0, 0};
    assert_int_equal(fw_image_read(f->s, d, 0, 1, collect_cb, &c), DS_OK);
    assert_int_equal(first, img[0]);
    free(img);
}

/* Test 4. */
static void test_discard(void **state)
{
    fx *f = *state;
    uint32_t size = FW_CHUNK_SIZE + 1;
    uint8_t d[32], d2[32];
    uint8_t *img = fwx_image(4, size, d);
    assert_int_equal(put(f, d, size, 0, img, FW_CHUNK_SIZE), DS_OK);
    assert_int_equal(fw_image_discard(f->s, d, "bad actor"), DS_E_ARG); /* a space: not an audit actor */
    assert_int_equal(fwx_rows(f, "firmware_image_chunks"), 1);
    assert_int_equal(fw_image_discard(f->s, d, ACTOR), DS_OK);
    assert_int_equal(fwx_rows(f, "firmware_image_chunks"), 0);
    assert_int_equal(fwx_audited(f, "firmware.upload_discard", ACTOR), 1);
    assert_int_equal(fw_image_discard(f->s, d, ACTOR), DS_E_NOT_FOUND);
    uint8_t *small = fwx_image(5, 10, d2);
    assert_int_equal(put(f, d2, 10, 0, small, 10), DS_OK);
    assert_int_equal(fw_image_discard(f->s, d2, ACTOR), DS_E_CONFLICT);
    assert_int_equal(fwx_rows(f, "firmware_images"), 1);
    free(img);
    free(small);
}

/* Test 5. */
static void test_read_bounds(void **state)
{
    fx *f = *state;
    uint8_t d[32], u[32];
    uint8_t *img = fwx_image(6, 100, d);
    uint8_t *unf = fwx_image(7, FW_CHUNK_SIZE + 1, u);
    assert_int_equal(put(f, d, 100, 0, img, 100), DS_OK);
    assert_int_equal(put(f, u, FW_CHUNK_SIZE + 1, 0, unf, FW_CHUNK_SIZE), DS_OK);
    uint8_t buf[200];
    collect c = {buf, 0, 0};
    assert_int_equal(fw_image_read(f->s, u, 0, 1, collect_cb, &c), DS_E_NOT_FOUND); /* unfinished */
    assert_int_equal(fw_image_read(f->s, d, 100, 1, collect_cb, &c), DS_E_ARG);
    assert_int_equal(fw_image_read(f->s, d, 99, 2, collect_cb, &c), DS_E_ARG);
    assert_int_equal(fw_image_read(f->s, d, 0, 0, collect_cb, &c), DS_E_ARG);
    assert_int_equal(c.calls, 0);
    assert_int_equal(fw_image_read(f->s, d, 99, 1, collect_cb, &c), DS_OK);
    assert_int_equal(buf[0], img[99]);
    free(img);
    free(unf);
}

static ds_status publish(fx *f, const uint8_t *m, size_t len, fw_release *r, bool *created)
{
    uint8_t anchors[2][32];
    fwx_other_authority(anchors[0]); /* not the signer: the next one is tried */
    fwx_authority(anchors[1]);
    return fw_release_publish(f->s, m, len, (const uint8_t(*)[32])anchors, 2, ACTOR, T0, r, created);
}

/* Test 6. */
static void test_publish(void **state)
{
    fx *f = *state;
    uint8_t d[32], anchor[32];
    uint8_t *img = fwx_image(8, 5000, d);
    fwx_upload(f, img, 5000, d);
    uint8_t m[DROT_MANIFEST_SIGNED_MAX];
    size_t len = fwx_manifest("HOST-OS", "1.1", 2, d, 5000, false, m, sizeof m);
    fw_release r;
    bool created = false;
    assert_int_equal(publish(f, m, len, &r, &created), DS_OK);
    assert_true(created);
    assert_string_equal(r.component, "HOST-OS");
    assert_string_equal(r.version, "1.1");
    assert_int_equal(r.svn, 2);
    assert_int_equal(r.size, 5000);
    assert_memory_equal(r.image_digest, d, 32);
    assert_int_equal(r.manifest_len, len);
    assert_memory_equal(r.manifest, m, len);
    fwx_authority(anchor);
    assert_memory_equal(r.signer, anchor, 32);
    assert_string_equal(r.published_by, ACTOR);
    int64_t id = r.id;
    /* the same again: accepted, nothing added */
    assert_int_equal(publish(f, m, len, &r, &created), DS_OK);
    assert_false(created);
    assert_int_equal(r.id, id);
    /* the same content signed again (ECDSA signatures differ): still the same release */
    size_t len2 = fwx_manifest("HOST-OS", "1.1", 2, d, 5000, false, m, sizeof m);
    assert_int_equal(publish(f, m, len2, &r, &created), DS_OK);
    assert_false(created);
    /* another content for 1.1: another SVN, another image */
    len2 = fwx_manifest("HOST-OS", "1.1", 3, d, 5000, false, m, sizeof m);
    assert_int_equal(publish(f, m, len2, &r, &created), DS_E_EXISTS);
    assert_non_null(strstr(ds_store_error(f->s), "already published with other content"));
    uint8_t d2[32];
    uint8_t *img2 = fwx_image(9, 6000, d2);
    fwx_upload(f, img2, 6000, d2);
    len2 = fwx_manifest("HOST-OS", "1.1", 2, d2, 6000, false, m, sizeof m);
    assert_int_equal(publish(f, m, len2, &r, &created), DS_E_EXISTS);
    assert_int_equal(fwx_rows(f, "firmware_releases"), 1);
    /* the same image under another version is a release of its own */
    len2 = fwx_manifest("HOST-OS", "1.1.1", 2, d, 5000, false, m, sizeof m);
    assert_int_equal(publish(f, m, len2, &r, &created), DS_OK);
    assert_true(created);
    assert_int_equal(fwx_audited(f, "firmware.publish", ACTOR), 2); /* repeats and refusals: none */
    fwx_audit_ok(f);
    free(img);
    free(img2);
}

/* Test 7. */
static void test_publish_refused(void **state)
{
    fx *f = *state;
    uint8_t d[32], u[32];
    uint8_t *img = fwx_image(10, 3000, d);
    fwx_upload(f, img, 3000, d);
    uint8_t m[DROT_MANIFEST_SIGNED_MAX + 16];
    fw_release r;
    bool created = true;
    /* unknown signer */
    size_t len = fwx_manifest("APM", "2.0", 1, d, 3000, true, m, sizeof m);
    uint8_t anchor[32];
    fwx_authority(anchor);
    assert_int_equal(
        fw_release_publish(f->s, m, len, (const uint8_t(*)[32])anchor, 1, ACTOR, T0, &r, &created), DS_E_ARG);
    assert_false(created);
    assert_non_null(strstr(ds_store_error(f->s), "not signed by an authority key"));
    /* no anchors at all */
    len = fwx_manifest("APM", "2.0", 1, d, 3000, false, m, sizeof m);
    assert_int_equal(fw_release_publish(f->s, m, len, NULL, 0, ACTOR, T0, &r, &created), DS_E_ARG);
    /* a flipped signature bit, a truncated manifest, garbage, too large */
    m[len - 1] ^= 1;
    assert_int_equal(publish(f, m, len, &r, &created), DS_E_ARG);
    m[len - 1] ^= 1;
    assert_int_equal(publish(f, m, len - 5, &r, &created), DS_E_ARG);
    assert_non_null(strstr(ds_store_error(f->s), "not a signed firmware manifest"));
    static const uint8_t garbage[] = "not a manifest at all";
    assert_int_equal(publish(f, garbage, sizeof garbage, &r, &created), DS_E_ARG);
    assert_int_equal(publish(f, m, 0, &r, &created), DS_E_ARG);
    static uint8_t big[FW_MANIFEST_MAX + 1];
    assert_int_equal(publish(f, big, sizeof big, &r, &created), DS_E_ARG);
    /* a valid manifest payload signed as an authority object of another kind */
    len = fwx_signed_as("APM", "2.0", 1, d, 3000, DROT_AUTH_CT_REVOCATION, m, sizeof m);
    assert_int_equal(publish(f, m, len, &r, &created), DS_E_ARG);
    /* the image: not uploaded, unfinished, another size */
    uint8_t *unf = fwx_image(11, FW_CHUNK_SIZE + 5, u);
    len = fwx_manifest("APM", "2.0", 1, u, FW_CHUNK_SIZE + 5, false, m, sizeof m);
    assert_int_equal(publish(f, m, len, &r, &created), DS_E_NOT_FOUND);
    assert_non_null(strstr(ds_store_error(f->s), "not in the repository"));
    assert_int_equal(put(f, u, FW_CHUNK_SIZE + 5, 0, unf, FW_CHUNK_SIZE), DS_OK);
    assert_int_equal(publish(f, m, len, &r, &created), DS_E_NOT_FOUND);
    assert_non_null(strstr(ds_store_error(f->s), "still being uploaded"));
    len = fwx_manifest("APM", "2.0", 1, d, 3001, false, m, sizeof m);
    assert_int_equal(publish(f, m, len, &r, &created), DS_E_CONFLICT);
    assert_non_null(strstr(ds_store_error(f->s), "3001"));
    assert_int_equal(fwx_rows(f, "firmware_releases"), 0);
    assert_int_equal(fwx_audited(f, "firmware.publish", NULL), 0);
    free(img);
    free(unf);
}

typedef struct names {
    char v[8][64];
    size_t n;
} names;

static int name_cb(const fw_release *r, void *ctx)
{
    names *n = ctx;
    snprintf(n->v[n->n++], sizeof n->v[0], "%s %s", r->component, r->version);
    return 0;
}

/* Test 8. */
static void test_list_find_check(void **state)
{
    fx *f = *state;
    uint8_t d[32];
    fwx_release(f, "APM", "1.0", 1, 20, 100, d);
    fwx_release(f, "HOST-OS", "1.0", 1, 21, 200, d);
    fwx_release(f, "APM", "1.1", 2, 22, 300, d);
    names n = {.n = 0};
    assert_int_equal(fw_release_list(f->s, NULL, 0, name_cb, &n), DS_OK);
    assert_int_equal(n.n, 3);
    assert_string_equal(n.v[2], "APM 1.1");
    n.n = 0;
    assert_int_equal(fw_release_list(f->s, "APM", 0, name_cb, &n), DS_OK);
    assert_int_equal(n.n, 2);
    n.n = 0;
    assert_int_equal(fw_release_list(f->s, NULL, 1, name_cb, &n), DS_OK);
    assert_int_equal(n.n, 1);
    fw_release r;
    assert_int_equal(fw_release_find(f->s, "APM", "1.1", &r), DS_OK);
    assert_int_equal(r.size, 300);
    assert_int_equal(fw_release_find(f->s, "APM", "9.9", &r), DS_E_NOT_FOUND);
    assert_int_equal(fw_release_get(f->s, r.id + 100, &r), DS_E_NOT_FOUND);
    assert_int_equal(fw_store_check(f->s), DS_OK);
    /* a chunk changed behind the store's back: F7 */
    raw_exec(f, "DELETE FROM firmware_image_chunks WHERE idx = 0 AND digest IN (SELECT image_digest FROM "
                "firmware_releases WHERE version = '1.1')");
    assert_int_equal(fw_store_check(f->s), DS_E_CORRUPT);
    assert_non_null(strstr(ds_store_error(f->s), "F7"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_upload_and_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_chunks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_discard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_publish, setup, teardown),
        cmocka_unit_test_setup_teardown(test_publish_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_find_check, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
