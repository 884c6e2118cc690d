#include "sim/capdu.h"

#include <string.h>

int capdu_parse(const uint8_t *buf, size_t len, capdu *out)
{
	memset(out, 0, sizeof(*out));
	if (len < 4)
		return -1;
	out->cla = buf[0];
	out->ins = buf[1];
	out->p1 = buf[2];
	out->p2 = buf[3];
	if (len == 4)
		return 0; /* case 1 */
	if (len == 5) { /* case 2 short */
		out->has_le = 1;
		out->ne = buf[4] ? buf[4] : 256;
		return 0;
	}
	if (buf[4] != 0) { /* short Lc */
		size_t lc = buf[4];
		if (len == 5 + lc) {
			out->data = buf + 5;
			out->lc = lc;
			return 0;
		}
		if (len == 6 + lc) {
			out->data = buf + 5;
			out->lc = lc;
			out->has_le = 1;
			out->ne = buf[len - 1] ? buf[len - 1] : 256;
			return 0;
		}
		return -1;
	}
	/* Extended: a zero byte, then two length bytes. */
	out->extended = 1;
	if (len == 7) { /* case 2 extended */
		size_t le = (size_t)buf[5] << 8 | buf[6];
		out->has_le = 1;
		out->ne = le ? le : 65536;
		return 0;
	}
	if (len < 8)
		return -1;
	size_t lc = (size_t)buf[5] << 8 | buf[6];
	if (lc == 0)
		return -1;
	if (len == 7 + lc) {
		out->data = buf + 7;
		out->lc = lc;
		return 0;
	}
	if (len == 9 + lc) {
		size_t le = (size_t)buf[len - 2] << 8 | buf[len - 1];
		out->data = buf + 7;
		out->lc = lc;
		out->has_le = 1;
		out->ne = le ? le : 65536;
		return 0;
	}
	return -1;
}
