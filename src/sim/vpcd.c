#include "sim/vpcd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int vpcd_connect(const char *host, int port)
{
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		errno = EINVAL;
		return -1;
	}
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	/* One small request, one small answer: Nagle would add 40 ms a turn. */
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* 1 all read, 0 EOF before the first byte, -1 error / EOF mid-message. */
static int read_full(int fd, uint8_t *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		/* vpcd writes a frame's length and body separately without
		 * TCP_NODELAY: Nagle holds the body until the length is acked,
		 * and a delayed ACK would cost 40 ms per APDU. Quick ACK is
		 * cleared by the kernel after use, so it is set before each read. */
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
		ssize_t r = read(fd, p + got, n - got);
		if (r == 0)
			return got == 0 ? 0 : -1;
		if (r < 0) {
			if (errno == EINTR)
				continue; /* a frame is never left half-read */
			return -1;
		}
		got += (size_t)r;
	}
	return 1;
}

int vpcd_recv(int fd, uint8_t *buf, size_t *len, const volatile sig_atomic_t *stop)
{
	for (;;) {
		if (stop && *stop) {
			errno = EINTR;
			return -1;
		}
		struct pollfd p = { fd, POLLIN, 0 };
		int n = poll(&p, 1, 100);
		if (n > 0)
			break;
		if (n < 0 && errno != EINTR)
			return -1;
	}
	uint8_t hdr[2];
	int r = read_full(fd, hdr, 2);
	if (r <= 0)
		return r;
	size_t n = (size_t)hdr[0] << 8 | hdr[1];
	if (n > 0) {
		r = read_full(fd, buf, n);
		if (r <= 0)
			return r == 0 ? 0 : -1;
	}
	*len = n;
	return 1;
}

int vpcd_send(int fd, const uint8_t *data, size_t len)
{
	if (len > VPCD_MSG_MAX)
		return -1;
	uint8_t hdr[2] = { (uint8_t)(len >> 8), (uint8_t)len };
	struct iovec iov[2] = { { hdr, 2 }, { (void *)data, len } };
	size_t total = 2 + len, sent = 0;
	while (sent < total) {
		struct msghdr m;
		memset(&m, 0, sizeof(m));
		/* Skip what has gone out already. */
		struct iovec v[2];
		int cnt = 0;
		size_t skip = sent;
		for (int i = 0; i < 2; i++) {
			if (skip >= iov[i].iov_len) {
				skip -= iov[i].iov_len;
				continue;
			}
			v[cnt].iov_base = (uint8_t *)iov[i].iov_base + skip;
			v[cnt].iov_len = iov[i].iov_len - skip;
			skip = 0;
			cnt++;
		}
		m.msg_iov = v;
		m.msg_iovlen = (size_t)cnt;
		ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		sent += (size_t)w;
	}
	return 0;
}
