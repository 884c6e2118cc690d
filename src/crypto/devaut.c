/* Device authentication: the EF 2F02 chain check and the trust-anchor set.
 *
 * EF 2F02 is card content, so everything in it is hostile input: it is
 * split with bounded loops, every certificate is parsed by cvc.c, a root
 * is only ever taken from the anchor set, and any malformation ends in a
 * FAILED verdict with the reason rather than an error. */
#include "crypto/devaut.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "crypto/cvc.h"
#include "util/fileio.h"
#include "util/tlv.h"

#ifndef HSMVAULT_TRUST_DIR
#error "HSMVAULT_TRUST_DIR (the installed trust-anchors folder) is set by meson.build"
#endif

/* EF 2F02 of a SmartCard-HSM holds two certificates, of a buggy pico-hsm a
 * request and a certificate: eight elements leave room and bound the work. */
#define MAX_ELEMENTS 8
/* device, up to three issuers, root */
#define MAX_PATH 5
/* A root CVC is under 500 bytes; anything far larger is not one. */
#define MAX_ANCHOR_FILE 4096

struct devaut_anchor {
	uint8_t *der;
	size_t len;
	cvcert cert; /* spans into der */
	int nid;
	EVP_PKEY *key;
};

const char *devaut_status_name(int status)
{
	switch (status) {
	case DEVAUT_GENUINE: return "genuine";
	case DEVAUT_NOT_ATTESTED: return "not-attested";
	case DEVAUT_FAILED: return "failed";
	default: return "unknown";
	}
}

int devaut_status_from_name(const char *name)
{
	for (int s = DEVAUT_GENUINE; s <= DEVAUT_FAILED; s++)
		if (name && strcmp(name, devaut_status_name(s)) == 0)
			return s;
	return 0;
}

void devaut_anchors_init(devaut_anchors *a)
{
	a->v = NULL;
	a->n = a->cap = 0;
}

void devaut_anchors_free(devaut_anchors *a)
{
	for (size_t i = 0; i < a->n; i++) {
		EVP_PKEY_free(a->v[i].key);
		free(a->v[i].der);
	}
	free(a->v);
	devaut_anchors_init(a);
}

static const struct devaut_anchor *anchor_named(const devaut_anchors *a, const char *chr)
{
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i].cert.chr, chr) == 0)
			return &a->v[i];
	return NULL;
}

/* Parses, checks and keeps one root in *t (which owns der on success). */
static int anchor_load(struct devaut_anchor *t, const char *what, hv_err *err)
{
	int rc = cvcert_parse(t->der, t->len, &t->cert, err);
	if (rc) {
		hv_err_prefix(err, "trust anchor %s is not a CV certificate", what);
		return HV_EUSAGE;
	}
	const cvcert *c = &t->cert;
	if (strcmp(c->car, c->chr) != 0)
		return hv_fail(err, HV_EUSAGE,
			       "trust anchor %s: %s is not self-signed (it was issued by %s); "
			       "only a root certificate can be a trust anchor", what, c->chr,
			       c->car[0] ? c->car : "nobody");
	rc = cvcert_curve(c, &t->nid, err);
	if (!rc && !t->nid)
		rc = hv_fail(err, HV_EUSAGE, "root %s carries no domain parameters", c->chr);
	if (!rc)
		rc = cvcert_public_key(c, t->nid, &t->key, err);
	if (!rc)
		rc = cvcert_verify(c, t->key, c->body.p, c->body.len, c->sig.p, c->sig.len, err);
	if (rc) {
		EVP_PKEY_free(t->key);
		t->key = NULL;
		if (rc == HV_ENOMEM || rc == HV_EINTERNAL)
			return rc;
		hv_err_prefix(err, "trust anchor %s is refused (a corrupted or altered root?)", what);
		return HV_EUSAGE;
	}
	return 0;
}

int devaut_anchors_add(devaut_anchors *a, const uint8_t *cvc, size_t len,
		       const char *what, hv_err *err)
{
	struct devaut_anchor t = { 0 };
	t.der = malloc(len ? len : 1);
	if (!t.der)
		return hv_fail(err, HV_ENOMEM, "out of memory reading trust anchor %s", what);
	memcpy(t.der, cvc, len);
	t.len = len;
	int rc = anchor_load(&t, what, err);
	if (rc) {
		free(t.der);
		return rc;
	}
	const struct devaut_anchor *same = anchor_named(a, t.cert.chr);
	if (same) {
		int identical = same->len == t.len && memcmp(same->der, t.der, t.len) == 0;
		EVP_PKEY_free(t.key);
		free(t.der);
		if (identical)
			return 0;
		/* Two keys under one name: the chain check could not tell
		 * which one a card's issuer means. */
		return hv_fail(err, HV_EUSAGE,
			       "trust anchor %s: another, different root named %s is already trusted; "
			       "keep only one of them", what, same->cert.chr);
	}
	if (a->n == a->cap) {
		size_t cap = a->cap ? 2 * a->cap : 4;
		struct devaut_anchor *v = realloc(a->v, cap * sizeof *v);
		if (!v) {
			EVP_PKEY_free(t.key);
			free(t.der);
			return hv_fail(err, HV_ENOMEM, "out of memory adding trust anchor %s", what);
		}
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = t;
	return 0;
}

static int name_cmp(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

static int is_cvc_name(const char *n)
{
	size_t l = strlen(n);
	return n[0] != '.' && l > 4 && strcmp(n + l - 4, ".cvc") == 0;
}

/* The *.cvc names of an open folder, sorted so that the outcome (and the
 * first error) does not depend on the file system's order. */
static int list_cvc(int dfd, const char *dir, char ***names, size_t *count, hv_err *err)
{
	*names = NULL;
	*count = 0;
	int fd = dup(dfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return hv_fail(err, HV_EIO, "cannot list trust folder %s: %s", dir, strerror(errno));
	}
	size_t cap = 0;
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!is_cvc_name(e->d_name))
			continue;
		if (*count == cap) {
			size_t nc = cap ? 2 * cap : 8;
			char **v = realloc(*names, nc * sizeof *v);
			if (!v) {
				rc = HV_ENOMEM;
				break;
			}
			*names = v;
			cap = nc;
		}
		if (!((*names)[*count] = strdup(e->d_name))) {
			rc = HV_ENOMEM;
			break;
		}
		(*count)++;
	}
	closedir(d);
	if (rc)
		return hv_fail(err, rc, "out of memory listing trust folder %s", dir);
	if (*count > 1)
		qsort(*names, *count, sizeof **names, name_cmp);
	return 0;
}

int devaut_anchors_add_dir(devaut_anchors *a, const char *dir, int missing_ok, hv_err *err)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		if (errno == ENOENT && missing_ok)
			return 0;
		if (errno == ENOENT)
			return hv_fail(err, HV_EUSAGE,
				       "trust folder %s does not exist; give a folder of root *.cvc files",
				       dir);
		return hv_fail(err, HV_EUSAGE, "cannot open trust folder %s: %s", dir, strerror(errno));
	}
	char **names;
	size_t count;
	int rc = list_cvc(dfd, dir, &names, &count, err);
	for (size_t i = 0; !rc && i < count; i++) {
		char what[4096 + 256];
		snprintf(what, sizeof what, "%s/%s", dir, names[i]);
		uint8_t *data = NULL;
		size_t len = 0;
		/* O_NOFOLLOW: a link planted in the folder does not add a root. */
		rc = file_read_at(dfd, names[i], MAX_ANCHOR_FILE, &data, &len, err);
		if (rc) {
			if (rc != HV_ENOMEM) {
				hv_err_prefix(err, "trust folder %s", dir);
				rc = HV_EUSAGE;
			}
		} else {
			rc = devaut_anchors_add(a, data, len, what, err);
		}
		free(data);
	}
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
	close(dfd);
	return rc;
}

int devaut_anchors_add_default(devaut_anchors *a, hv_err *err)
{
	int rc = devaut_anchors_add(a, devaut_builtin_root, sizeof devaut_builtin_root,
				    "DESRCACC100001 (built in)", err);
	if (rc)
		return rc == HV_ENOMEM ? rc : HV_EINTERNAL;
	return devaut_anchors_add_dir(a, HSMVAULT_TRUST_DIR, 1, err);
}

/* ---------------------------------------------------------------- check */

__attribute__((format(printf, 3, 4)))
static int verdict(devaut_result *r, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof r->reason, fmt, ap);
	va_end(ap);
	r->status = status;
	return 0;
}

static void set_name(char dst[24], const char *src)
{
	snprintf(dst, 24, "%.16s", src);
}

static void set_validity(char dst[24], const cvcert *c)
{
	if (c->effective[0] && c->expiry[0])
		snprintf(dst, 24, "%.10s..%.10s", c->effective, c->expiry);
	else
		dst[0] = '\0';
}

/* One certificate on the path from the device up to an anchor. */
struct link {
	const cvcert *cert;
	const struct devaut_anchor *anchor; /* set for the top only */
	int nid;
	EVP_PKEY *key;                      /* owned unless anchor */
};

/* The card's elements: the device certificate first, then those it may
 * carry (its issuers). */
struct ef_content {
	cvcert certs[MAX_ELEMENTS];
	size_t ncerts;
	cvcert_request requests[MAX_ELEMENTS];
	size_t nrequests;
};

/* Splits and parses EF 2F02. 0, or a FAILED verdict set in *r (returns 1).
 * Fills has_devcert and the hash as soon as a device 7F21 is delimited. */
static int split_ef(const uint8_t *ef, size_t len, struct ef_content *ec, devaut_result *r)
{
	size_t off = 0, n = 0;
	while (off < len) {
		if (ef[off] == 0x00 || ef[off] == 0xFF) {
			/* A file read beyond its content may come back padded. */
			if (n == 0)
				return verdict(r, DEVAUT_FAILED, "EF 2F02 starts with padding (%02X), "
					       "not with a certificate", ef[off]) + 1;
			for (size_t i = off; i < len; i++)
				if (ef[i] != ef[off])
					return verdict(r, DEVAUT_FAILED, "EF 2F02 holds data after "
						       "its padding at offset %zu", off) + 1;
			break;
		}
		if (n == MAX_ELEMENTS)
			return verdict(r, DEVAUT_FAILED, "EF 2F02 holds more than %d elements",
				       MAX_ELEMENTS) + 1;
		size_t at = off;
		tlv t;
		if (tlv_next(ef, len, &off, &t))
			return verdict(r, DEVAUT_FAILED, "EF 2F02 is malformed: element %zu at offset %zu "
				       "is not well-formed TLV", n + 1, at) + 1;
		n++;
		hv_err perr = { 0 };
		if (t.tag == 0x7F21) {
			if (ec->ncerts == 0) {
				SHA256(t.raw, t.raw_len, r->devcert_sha256);
				r->has_devcert = 1;
			}
			if (cvcert_parse(t.raw, t.raw_len, &ec->certs[ec->ncerts], &perr))
				return verdict(r, DEVAUT_FAILED, "%s certificate in EF 2F02 is malformed: %s",
					       ec->ncerts == 0 ? "the device" : "an issuer", perr.msg) + 1;
			ec->ncerts++;
		} else if (t.tag == 0x67) {
			/* pico-hsm before df9b45e: its device request ahead of the
			 * certificate; checked once the device key is known. */
			if (cvcert_parse_request(t.raw, t.raw_len, &ec->requests[ec->nrequests], &perr))
				return verdict(r, DEVAUT_FAILED, "the request (67) in EF 2F02 is "
					       "malformed: %s", perr.msg) + 1;
			ec->nrequests++;
		} else {
			return verdict(r, DEVAUT_FAILED, "EF 2F02 holds tag %X at offset %zu where a "
				       "certificate (7F21) belongs", t.tag, at) + 1;
		}
	}
	if (ec->ncerts == 0)
		return verdict(r, DEVAUT_FAILED, "EF 2F02 holds no device certificate (7F21)") + 1;
	return 0;
}

/* The requests (67) EF 2F02 carries: each self-signed by its own key and
 * outer-signed by the device key (dev, devkey). 0 when they all verify;
 * -1 with a FAILED verdict in *r; HV_ENOMEM / HV_EINTERNAL. */
static int check_requests(const struct ef_content *ec, const cvcert *dev, EVP_PKEY *devkey,
			  devaut_result *r, hv_err *err)
{
	for (size_t i = 0; i < ec->nrequests; i++) {
		const cvcert_request *q = &ec->requests[i];
		const cvcert *in = &q->inner;
		hv_err e = { 0 };
		int nid;
		EVP_PKEY *key = NULL;
		int rc = cvcert_curve(in, &nid, &e);
		if (!rc && !nid)
			rc = hv_fail(&e, HV_EUSAGE, "%s carries no domain parameters", in->chr);
		if (!rc)
			rc = cvcert_public_key(in, nid, &key, &e);
		if (!rc)
			rc = cvcert_verify(in, key, in->body.p, in->body.len, in->sig.p, in->sig.len, &e);
		EVP_PKEY_free(key);
		if (!rc && strcmp(q->outer_car, dev->chr) != 0)
			rc = hv_fail(&e, HV_EUSAGE, "it is signed by %s, not by the device key %s",
				     q->outer_car, dev->chr);
		if (!rc)
			rc = cvcert_verify(dev, devkey, q->outer_signed.p, q->outer_signed.len,
					   q->outer_sig.p, q->outer_sig.len, &e);
		if (rc == HV_ENOMEM || rc == HV_EINTERNAL)
			return hv_fail(err, rc, "%s", e.msg);
		if (rc) {
			verdict(r, DEVAUT_FAILED, "the request (67) in EF 2F02 does not verify: %s", e.msg);
			return -1;
		}
	}
	return 0;
}

/* Verdict for a self-signed device certificate. */
static int check_self_signed(const devaut_anchors *a, const struct ef_content *ec,
			     devaut_result *r, hv_err *err)
{
	const cvcert *dev = &ec->certs[0];
	const struct devaut_anchor *pin = anchor_named(a, dev->chr);
	if (pin && pin->cert.raw.len == dev->raw.len &&
	    memcmp(pin->cert.raw.p, dev->raw.p, dev->raw.len) == 0) {
		/* The operator trusts exactly this certificate (a pinned
		 * pico-hsm): it was verified when it was added. */
		int rc = check_requests(ec, dev, pin->key, r, err);
		if (rc)
			return rc > 0 ? rc : 0;
		set_name(r->root_chr, dev->chr);
		set_validity(r->root_valid, dev);
		return verdict(r, DEVAUT_GENUINE, "%s", "");
	}
	int nid;
	EVP_PKEY *key = NULL;
	hv_err e = { 0 };
	int rc = cvcert_curve(dev, &nid, &e);
	if (!rc && !nid)
		rc = hv_fail(&e, HV_EUSAGE, "it carries no domain parameters");
	if (!rc)
		rc = cvcert_public_key(dev, nid, &key, &e);
	if (!rc)
		rc = cvcert_verify(dev, key, dev->body.p, dev->body.len, dev->sig.p, dev->sig.len, &e);
	if (rc) {
		EVP_PKEY_free(key);
		if (rc == HV_ENOMEM || rc == HV_EINTERNAL)
			return hv_fail(err, rc, "%s", e.msg);
		return verdict(r, DEVAUT_FAILED, "self-signed device certificate %s does not verify: %s",
			       dev->chr, e.msg);
	}
	rc = check_requests(ec, dev, key, r, err);
	EVP_PKEY_free(key);
	if (rc)
		return rc > 0 ? rc : 0;
	return verdict(r, DEVAUT_NOT_ATTESTED, "self-signed device certificate %s (as pico-hsm makes "
		       "by default): proves only that the card holds its key, not that it is genuine",
		       dev->chr);
}

/* Builds the path device -> issuers -> anchor by names (CAR = CHR).
 * Returns its length, or 0 with a FAILED verdict in *r. */
static size_t find_path(const devaut_anchors *a, const struct ef_content *ec,
			struct link path[MAX_PATH], devaut_result *r)
{
	int used[MAX_ELEMENTS] = { 1 };
	size_t depth = 1;
	path[0].cert = &ec->certs[0];
	while (!path[depth - 1].anchor) {
		const cvcert *cur = path[depth - 1].cert;
		if (depth == MAX_PATH) {
			verdict(r, DEVAUT_FAILED, "the chain from %s is longer than %d certificates",
				path[0].cert->chr, MAX_PATH);
			return 0;
		}
		const struct devaut_anchor *root = anchor_named(a, cur->car);
		if (root) {
			path[depth].cert = &root->cert;
			path[depth].anchor = root;
			depth++;
			continue;
		}
		size_t i = 1;
		while (i < ec->ncerts && (used[i] || strcmp(ec->certs[i].chr, cur->car) != 0))
			i++;
		if (i == ec->ncerts) {
			if (depth == 1)
				verdict(r, DEVAUT_FAILED, "the issuer %s of device certificate %s is neither "
					"in EF 2F02 nor a trusted anchor", cur->car, cur->chr);
			else
				verdict(r, DEVAUT_FAILED, "%s was issued by %s, which is not a trusted "
					"anchor", cur->chr, cur->car);
			return 0;
		}
		const cvcert *next = &ec->certs[i];
		if (strcmp(next->car, next->chr) == 0) {
			/* A root the card brings itself proves nothing. */
			verdict(r, DEVAUT_FAILED, "the chain ends at %s, a self-signed certificate from "
				"the card that is not a trusted anchor", next->chr);
			return 0;
		}
		used[i] = 1;
		path[depth++].cert = next;
	}
	return depth;
}

/* Curves, keys and signatures of a path, from the anchor down. 0 (verdict
 * set in *r), or HV_ENOMEM / HV_EINTERNAL. */
static int verify_path(struct link *path, size_t depth, devaut_result *r, hv_err *err)
{
	struct link *top = &path[depth - 1];
	top->nid = top->anchor->nid;
	top->key = top->anchor->key;
	for (size_t k = depth - 1; k-- > 0;) {
		struct link *l = &path[k], *up = &path[k + 1];
		hv_err e = { 0 };
		int rc = cvcert_curve(l->cert, &l->nid, &e);
		if (!rc && !l->nid)
			l->nid = up->nid; /* only the point: the issuer's curve */
		/* The key is built even for the device, whose key signs
		 * nothing here: a point off its curve is refused. */
		if (!rc)
			rc = cvcert_public_key(l->cert, l->nid, &l->key, &e);
		if (!rc)
			rc = cvcert_verify(up->cert, up->key, l->cert->body.p, l->cert->body.len,
					   l->cert->sig.p, l->cert->sig.len, &e);
		if (rc == HV_ENOMEM || rc == HV_EINTERNAL)
			return hv_fail(err, rc, "%s", e.msg);
		if (rc == HV_EINTEGRITY)
			return verdict(r, DEVAUT_FAILED, "%s certificate %s: %s",
				       k == 0 ? "device" : "issuer", l->cert->chr, e.msg);
		if (rc)
			return verdict(r, DEVAUT_FAILED, "%s", e.msg);
	}
	set_name(r->root_chr, top->cert->chr);
	set_validity(r->root_valid, top->cert);
	set_validity(r->issuer_valid, path[1].cert);
	return verdict(r, DEVAUT_GENUINE, "%s", "");
}

int devaut_check(const devaut_anchors *a, const uint8_t *ef, size_t len,
		 devaut_result *r, hv_err *err)
{
	memset(r, 0, sizeof *r);
	if (len == 0)
		return verdict(r, DEVAUT_NOT_ATTESTED, "EF 2F02 is empty: the card has no device "
			       "certificate yet (a pico-hsm before its first INITIALIZE)");
	struct ef_content *ec = calloc(1, sizeof *ec);
	if (!ec)
		return hv_fail(err, HV_ENOMEM, "out of memory checking the device certificate");
	int rc = 0;
	int split_failed = split_ef(ef, len, ec, r);
	if (ec->ncerts == 0)
		goto out;
	/* The device's names, even when what follows it is malformed: the
	 * operator sees which card failed. */
	const cvcert *dev = &ec->certs[0];
	set_name(r->device_chr, dev->chr);
	size_t l = strlen(dev->chr);
	set_name(r->serial, dev->chr);
	if (l > 5)
		r->serial[l - 5] = '\0';
	set_name(r->issuer_chr, dev->car);
	set_validity(r->device_valid, dev);
	if (split_failed)
		goto out;
	if (!dev->car[0]) {
		verdict(r, DEVAUT_FAILED, "device certificate %s names no issuer (CAR)", dev->chr);
		goto out;
	}
	if (strcmp(dev->car, dev->chr) == 0) {
		rc = check_self_signed(a, ec, r, err);
		goto out;
	}
	struct link path[MAX_PATH];
	memset(path, 0, sizeof path);
	size_t depth = find_path(a, ec, path, r);
	if (depth)
		rc = verify_path(path, depth, r, err);
	if (!rc && r->status == DEVAUT_GENUINE && ec->nrequests) {
		rc = check_requests(ec, dev, path[0].key, r, err);
		if (rc < 0) {
			r->root_chr[0] = r->issuer_valid[0] = r->root_valid[0] = '\0';
			rc = 0;
		}
	}
	for (size_t i = 0; i < MAX_PATH; i++)
		if (!path[i].anchor)
			EVP_PKEY_free(path[i].key);
out:
	free(ec);
	return rc;
}
