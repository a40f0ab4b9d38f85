/*
 * Test support shared by every test program: hex, vector files, JSON.
 *
 * Vector files live in $DROT_VECTORS_DIR (default ../shared/vectors). When the
 * folder is absent, drot_test_vector_json() prints why and returns NULL; the
 * caller then calls cmocka's skip(), so the test is reported as skipped,
 * never as passed.
 */
#ifndef DROT_TEST_SUPPORT_H
#define DROT_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Decodes hex (upper or lower case, even length) into out. Returns the byte
 * count, or -1 on bad hex or if it does not fit cap. */
long drot_test_hex(const char *hex, uint8_t *out, size_t cap);

/* Decodes hex into a fresh malloc'ed buffer (test code only); *len = size.
 * Aborts the test on bad hex. Returns a non-NULL pointer even for "". */
uint8_t *drot_test_hex_alloc(const char *hex, size_t *len);

/* base64url without padding (JWK fields) into out; -1 on error. */
long drot_test_b64url(const char *s, uint8_t *out, size_t cap);

/* The vectors folder, or NULL (with a message on stderr) when absent. */
const char *drot_test_vectors_dir(void);

/* Loads <vectors>/<relpath> as JSON. NULL with a "SKIP: …" message on stderr
 * when the folder or the file is absent. Aborts on a JSON syntax error. */
json_t *drot_test_vector_json(const char *relpath);

/* Reads a whole file into a malloc'ed buffer; NULL if unreadable. */
uint8_t *drot_test_read_file(const char *path, size_t *len);

#endif
