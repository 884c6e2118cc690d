/* The drill's card room: a private pcscd with vpcd readers and one
 * hsmvault-sim per card, all children of this process, inside a private
 * mount namespace so that the machine's own pcscd (if any) is never
 * touched. Needs root (mount namespace, tmpfs over /run/pcscd). */
#ifndef HV_FLOWS_DRILL_ENV_H
#define HV_FLOWS_DRILL_ENV_H

#include <stddef.h>

#include "util/err.h"

#define DRILL_ROOM_READERS 2

typedef struct drill_room drill_room;

/* Starts pcscd with DRILL_ROOM_READERS empty readers; files go to workdir.
 * sim_path: the simulator program. */
int drill_room_start(const char *workdir, const char *sim_path, drill_room **out,
		     hv_err *err);
/* Puts a card into reader i: state file workdir/card-<serial>.state, a
 * factory-fresh card when blank, of the simulator's card family profile
 * (NULL: its default, smartcard-hsm); waits until pcscd sees it. */
int drill_room_insert(drill_room *r, size_t i, const char *serial, const char *profile,
		      int blank, hv_err *err);
/* Pulls the card from reader i and waits until the reader is empty. */
int drill_room_pull(drill_room *r, size_t i, hv_err *err);
/* pcscd's name of reader i. */
const char *drill_room_reader(const drill_room *r, size_t i);
/* Command APDUs every simulator of this room answered so far. */
unsigned long drill_room_apdus(drill_room *r);
/* Writes the simulator's test root CV certificate (hsmvault-sim
 * --print-root) to out_path: the root its factory cards chain to, which
 * the drill trusts explicitly and no installation does. */
int drill_sim_print_root(const char *sim_path, const char *out_path, hv_err *err);
/* Stops every simulator and pcscd (by pid). NULL is fine. */
void drill_room_stop(drill_room *r);

#endif
