/* PRKD encoding/parsing and the sc-hsm-tool wrapped-key file (V7 and the
 * real wrapped.bin). */
#include "crypto_test.h"

#include "crypto/prkd.h"
#include "crypto/wrapfile.h"

#define V7_PRKD "A02130090C07546573744B657930080401010303072080A10A30083002040002020100"

static void test_v7_prkd(void **state)
{
	(void)state;
	prkd_info in = { .kind = PRKD_EC, .id = { 1 }, .id_len = 1, .key_ref = -1,
			 .key_bits = 256 };
	strcpy(in.label, "TestKey");
	bytebuf out = { 0 };
	hv_err err;
	assert_int_equal(prkd_encode(&in, &out, &err), 0);
	assert_hex_equal(out.data, out.len, V7_PRKD);

	prkd_info p;
	assert_int_equal(prkd_parse(out.data, out.len, &p, &err), 0);
	assert_int_equal(p.kind, PRKD_EC);
	assert_string_equal(p.label, "TestKey");
	assert_int_equal(p.id_len, 1);
	assert_int_equal(p.id[0], 1);
	assert_int_equal(p.key_ref, -1);
	assert_int_equal(p.key_bits, 256);
	buf_free(&out);
}

static void roundtrip(int kind, const char *label, size_t id_len, int ref, unsigned bits)
{
	prkd_info in = { .kind = kind, .id_len = id_len, .key_ref = ref, .key_bits = bits };
	snprintf(in.label, sizeof in.label, "%s", label);
	for (size_t i = 0; i < id_len; i++)
		in.id[i] = (uint8_t)(0xF0 ^ i);
	bytebuf out = { 0 };
	hv_err err;
	assert_int_equal(prkd_encode(&in, &out, &err), 0);
	assert_int_equal(out.data[0], kind);
	prkd_info p;
	assert_int_equal(prkd_parse(out.data, out.len, &p, &err), 0);
	assert_int_equal(p.kind, kind);
	assert_string_equal(p.label, label);
	assert_int_equal(p.id_len, id_len);
	assert_memory_equal(p.id, in.id, id_len);
	assert_int_equal(p.key_ref, ref);
	assert_int_equal(p.key_bits, bits);
	buf_free(&out);
}

static void test_prkd_kinds(void **state)
{
	(void)state;
	roundtrip(PRKD_RSA, "rsa-4096 CA root", 20, 3, 4096);
	roundtrip(PRKD_RSA, "", 0, 200, 2048);
	roundtrip(PRKD_EC, "p521", 64, 255, 521);
	roundtrip(PRKD_EC, "x", 8, 128, 256);
	roundtrip(PRKD_AES, "aes key", 16, 7, 256);
	roundtrip(PRKD_AES, "aes128", 1, -1, 128);
	char l[128];
	memset(l, 'L', 127);
	l[127] = 0;
	roundtrip(PRKD_EC, l, 1, 1, 256);
}

/* pico-hsm's own pre-created PRKD (smartcard-hsm.md section 10): empty
 * label, ID = ASCII key ref. */
static void test_prkd_pico(void **state)
{
	(void)state;
	size_t len;
	uint8_t *d = unhex("A01A30020C0030080401320303072080A10A30083002040002020100", &len);
	prkd_info p;
	hv_err err;
	assert_int_equal(prkd_parse(d, len, &p, &err), 0);
	assert_string_equal(p.label, "");
	assert_int_equal(p.id_len, 1);
	assert_int_equal(p.id[0], '2');
	assert_int_equal(p.key_bits, 256);
	free(d);
}

static void test_prkd_hostile(void **state)
{
	(void)state;
	size_t len;
	uint8_t *d = unhex(V7_PRKD, &len);
	prkd_info p;
	hv_err err;
	/* Every truncation fails cleanly. */
	for (size_t l = 0; l < len; l++)
		assert_int_not_equal(prkd_parse(d, l, &p, &err), 0);
	/* Trailing bytes after the TLV are ignored (C4 file contents). */
	uint8_t *big = calloc(1, len + 10);
	memcpy(big, d, len);
	assert_int_equal(prkd_parse(big, len + 10, &p, &err), 0);
	free(big);
	/* Unknown kind. */
	d[0] = 0xA3;
	assert_int_equal(prkd_parse(d, len, &p, &err), HV_EUSAGE);
	d[0] = 0xA0;
	/* Inner lengths too long: label length byte, ID length byte. */
	d[5] = 0x50;
	assert_int_equal(prkd_parse(d, len, &p, &err), HV_EUSAGE);
	d[5] = 0x07;
	d[16] = 0x7F;
	assert_int_equal(prkd_parse(d, len, &p, &err), HV_EUSAGE);
	d[16] = 0x01;
	/* Every single-bit flip either parses or fails, never crashes. */
	for (size_t bit = 0; bit < len * 8; bit++) {
		d[bit / 8] ^= (uint8_t)(1 << (bit % 8));
		(void)prkd_parse(d, len, &p, &err);
		d[bit / 8] ^= (uint8_t)(1 << (bit % 8));
	}
	assert_int_equal(prkd_parse(d, len, &p, &err), 0);
	free(d);
	/* Label over 127 bytes and ID over 64 bytes are refused. */
	uint8_t lab[200] = { 0xA0, 0x81, 0x90, 0x30, 0x81, 0x8D, 0x0C, 0x81, 0x8A };
	memset(lab + 9, 'a', 0x8A);
	assert_int_equal(prkd_parse(lab, 9 + 0x8A, &p, &err), HV_EUSAGE);
	uint8_t id[100] = { 0xA0, 0x48, 0x30, 0x00, 0x30, 0x44, 0x04, 0x42 };
	assert_int_equal(prkd_parse(id, 8 + 0x42, &p, &err), HV_EUSAGE);
}

static void test_v7_file(void **state)
{
	(void)state;
	size_t bl, pl;
	uint8_t *blob = unhex(V6_BLOB, &bl);
	uint8_t *prkd = unhex(V7_PRKD, &pl);
	bytebuf out = { 0 };
	hv_err err;
	assert_int_equal(wrapfile_build(blob, bl, prkd, pl, NULL, 0, &out, &err), 0);
	assert_int_equal(out.len, 406);
	static const uint8_t head[] = { 0x30, 0x82, 0x01, 0x92, 0x04, 0x82, 0x01, 0x6B };
	assert_memory_equal(out.data, head, 8);
	assert_memory_equal(out.data + 8, blob, bl);
	assert_memory_equal(out.data + 8 + bl, prkd, pl);

	wrapfile wf;
	assert_int_equal(wrapfile_parse(out.data, out.len, &wf, &err), 0);
	assert_int_equal(wf.blob_len, bl);
	assert_memory_equal(wf.blob, blob, bl);
	assert_int_equal(wf.prkd_len, pl);
	assert_memory_equal(wf.prkd, prkd, pl);
	assert_null(wf.cert);

	/* Trailing garbage after the SEQUENCE is refused (decided: the tool
	 * never writes any, so the file was altered). */
	buf_put_u8(&out, 0);
	assert_int_equal(wrapfile_parse(out.data, out.len, &wf, &err), HV_EUSAGE);
	out.len--;
	/* Every truncation is refused. */
	for (size_t l = 0; l < out.len; l++)
		assert_int_equal(wrapfile_parse(out.data, l, &wf, &err), HV_EUSAGE);
	/* Certificate without PRKD cannot be written. */
	bytebuf o2 = { 0 };
	assert_int_equal(wrapfile_build(blob, bl, NULL, 0, prkd, pl, &o2, &err), HV_EUSAGE);
	/* A PRKD that is not one TLV is refused. */
	assert_int_equal(wrapfile_build(blob, bl, prkd, pl - 1, NULL, 0, &o2, &err), HV_EUSAGE);
	/* Blob only. */
	assert_int_equal(wrapfile_build(blob, bl, NULL, 0, NULL, 0, &o2, &err), 0);
	assert_int_equal(wrapfile_parse(o2.data, o2.len, &wf, &err), 0);
	assert_null(wf.prkd);
	assert_null(wf.cert);
	buf_free(&o2);
	buf_free(&out);
	free(blob);
	free(prkd);
}

static void test_real_file(void **state)
{
	(void)state;
	size_t len;
	uint8_t *d = fixture("wrapped.bin", &len);
	assert_int_equal(len, 901);
	wrapfile wf;
	hv_err err;
	assert_int_equal(wrapfile_parse(d, len, &wf, &err), 0);
	assert_int_equal(wf.blob_len, 331);
	assert_non_null(wf.prkd);
	assert_int_equal(wf.prkd_len, 72);
	assert_non_null(wf.cert);
	assert_int_equal(wf.cert_len, 490);
	assert_int_equal(wf.cert[0], 0x67); /* CV request */
	prkd_info p;
	assert_int_equal(prkd_parse(wf.prkd, wf.prkd_len, &p, &err), 0);
	assert_int_equal(p.kind, PRKD_EC);
	assert_string_equal(p.label, "myfirst_keypair");
	assert_hex_equal(p.id, p.id_len, "983b725d0c2b612baf11dd142dee092071cafbe5");
	assert_int_equal(p.key_ref, 1);
	assert_int_equal(p.key_bits, 256);

	/* Rebuilding from the parts gives the same bytes. */
	bytebuf out = { 0 };
	assert_int_equal(wrapfile_build(wf.blob, wf.blob_len, wf.prkd, wf.prkd_len,
					wf.cert, wf.cert_len, &out, &err), 0);
	assert_int_equal(out.len, len);
	assert_memory_equal(out.data, d, len);
	buf_free(&out);

	/* Hostile outer and inner lengths. */
	uint8_t *h = malloc(len);
	memcpy(h, d, len);
	h[2] = 0xFF; /* outer length too long */
	assert_int_equal(wrapfile_parse(h, len, &wf, &err), HV_EUSAGE);
	memcpy(h, d, len);
	h[1] = 0x84; /* 4-byte outer length claims 0x0381xxxx */
	assert_int_equal(wrapfile_parse(h, len, &wf, &err), HV_EUSAGE);
	memcpy(h, d, len);
	h[6] = 0xFF; /* blob length past the SEQUENCE */
	assert_int_equal(wrapfile_parse(h, len, &wf, &err), HV_EUSAGE);
	memcpy(h, d, len);
	h[4] = 0x24; /* constructed OCTET STRING */
	assert_int_equal(wrapfile_parse(h, len, &wf, &err), HV_EUSAGE);
	memcpy(h, d, len);
	h[0] = 0x31;
	assert_int_equal(wrapfile_parse(h, len, &wf, &err), HV_EUSAGE);
	memcpy(h, d, len);
	h[340] = 0x7F; /* PRKD length past the end */
	assert_int_equal(wrapfile_parse(h, len, &wf, &err), HV_EUSAGE);
	/* Every bit flip: never a crash; a parse that succeeds keeps all
	 * pointers inside the file. */
	memcpy(h, d, len);
	for (size_t bit = 0; bit < 420 * 8; bit++) {
		h[bit / 8] ^= (uint8_t)(1 << (bit % 8));
		if (wrapfile_parse(h, len, &wf, &err) == 0) {
			assert_true(wf.blob >= h && wf.blob + wf.blob_len <= h + len);
			if (wf.prkd)
				assert_true(wf.prkd >= h && wf.prkd + wf.prkd_len <= h + len);
			if (wf.cert)
				assert_true(wf.cert >= h && wf.cert + wf.cert_len <= h + len);
		}
		h[bit / 8] ^= (uint8_t)(1 << (bit % 8));
	}
	free(h);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v7_prkd),
		cmocka_unit_test(test_prkd_kinds),
		cmocka_unit_test(test_prkd_pico),
		cmocka_unit_test(test_prkd_hostile),
		cmocka_unit_test(test_v7_file),
		cmocka_unit_test(test_real_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
