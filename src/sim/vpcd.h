/* The vsmartcard vpcd link, card side. vpcd (the reader driver inside
 * pcscd) listens on a TCP port; the card connects to it. Every message in
 * either direction is a 2-byte big-endian length and that many bytes.
 * From the reader, a 1-byte message is a control code (VPCD_CTRL_*), a
 * longer one a command APDU. The card answers an APDU with the response
 * APDU and VPCD_CTRL_ATR with its ATR; the other codes get no answer. */
#ifndef HV_SIM_VPCD_H
#define HV_SIM_VPCD_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

enum {
	VPCD_CTRL_OFF = 0x00,
	VPCD_CTRL_ON = 0x01,
	VPCD_CTRL_RESET = 0x02,
	VPCD_CTRL_ATR = 0x04,
};

#define VPCD_MSG_MAX 0xFFFF

/* Connected socket, or -1 (errno set). */
int vpcd_connect(const char *host, int port);

/* Reads one message into buf (VPCD_MSG_MAX bytes). 1 = got one,
 * 0 = the reader closed the connection, -1 = error, or *stop became
 * non-zero while waiting (checked at least every 100 ms, so a signal
 * that arrives just before the wait is not missed). */
int vpcd_recv(int fd, uint8_t *buf, size_t *len, const volatile sig_atomic_t *stop);

/* 0, or -1 when the connection is gone. */
int vpcd_send(int fd, const uint8_t *data, size_t len);

#endif
