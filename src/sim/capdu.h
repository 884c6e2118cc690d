/* Command APDUs as the simulated card receives them: ISO/IEC 7816-4
 * cases 1 to 4 in short and extended form, split into header, data and Ne. */
#ifndef HV_SIM_CAPDU_H
#define HV_SIM_CAPDU_H

#include <stddef.h>
#include <stdint.h>

typedef struct capdu {
	uint8_t cla, ins, p1, p2;
	const uint8_t *data; /* inside the parsed buffer; NULL when lc == 0 */
	size_t lc;
	size_t ne;           /* 0 = no Le field; else 1 ... 65536 */
	int has_le;
	int extended;
} capdu;

/* 0, or -1 when the bytes are not a well-formed APDU (answer 67 00). */
int capdu_parse(const uint8_t *buf, size_t len, capdu *out);

#endif
