/* adopt, step 1: every file of a stick or folder, recognized by its
 * content and never by its name (flows/adopt.h). Files with the same
 * bytes are one item (a copy the operator kept, or the copy an earlier,
 * interrupted adopt made at a layout path). */
#ifndef HV_FLOWS_ADOPT_SCAN_H
#define HV_FLOWS_ADOPT_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/keyblob.h"
#include "crypto/prkd.h"
#include "crypto/wrapfile.h"
#include "util/err.h"
#include "vfs/vfs.h"

enum adopt_kind {
	ADOPT_SHARE,   /* 64 bytes starting "Salted__": a DKEK share file (a
			* password share and an n-of-m share look the same) */
	ADOPT_WRAP,    /* sc-hsm-tool --wrap-key: SEQUENCE { key blob, PRKD, cert } */
	ADOPT_OTHER,   /* anything else: listed, left alone */
	ADOPT_OWN,     /* hsmvault's own (marker, manifest/, journal/, ...) */
};

/* Bounds of the walk: a stick holds a handful of files; a tree far
 * larger than any backup stick is refused instead of walked forever. */
#define ADOPT_MAX_FILES 4096
#define ADOPT_MAX_DEPTH 16
/* Files larger than this are listed unread: no share or wrap file is. */
#define ADOPT_MAX_READ (1u << 20)

typedef struct adopt_file {
	char *path;              /* inside the vault, '/'-separated */
	int kind;                /* enum adopt_kind */
	uint8_t *data;           /* the bytes (shares and wrap files) */
	size_t len;
	char sha256[65];
	char note[200];          /* OTHER: why it is not recognized */
	int dup_of;              /* index of the first file with these bytes, or -1 */
	/* ADOPT_WRAP: pointers into data */
	wrapfile wf;
	keyblob_info blob;
	prkd_info prkd;
	int has_prkd;
} adopt_file;

typedef struct adopt_scan {
	adopt_file *f;
	size_t n, cap;
} adopt_scan;

/* Reads the whole tree of v (lost+found left out) into s, sorted by path. */
int adopt_scan_tree(vfs *v, adopt_scan *s, hv_err *err);
void adopt_scan_free(adopt_scan *s);
/* The scanned file at path (a file given by the operator), or NULL. */
const adopt_file *adopt_scan_find(const adopt_scan *s, const char *path);
/* "EC 256", "RSA 2048", "AES 256": what a wrap file says without a secret. */
void adopt_blob_text(const adopt_file *f, char *out, size_t n);

#endif
