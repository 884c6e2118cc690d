/* C side of the private PC/SC test stack. A C test runs under
 * tests/harness/run-in-pcsc-env.sh, which has started pcscd and exported the
 * reader names and ports; these functions read them and start or stop
 * simulated cards (hsmvault-sim, from $HSMVAULT_SIM) in the readers.
 * Every sim started here is recorded in $HV_PCSC_WORK/pids so that the
 * wrapper ends it even if the test crashes. Functions print the reason to
 * stderr and return -1 on failure. */
#ifndef HV_TESTS_PCSC_HARNESS_H
#define HV_TESTS_PCSC_HARNESS_H

/* 0 when the environment is complete (inside the wrapper, sim known). */
int harness_check_env(void);

int harness_reader_count(void);
/* NULL when idx is out of range. */
const char *harness_reader_name(int idx);
int harness_reader_port(int idx);

/* Scratch folder of this run ($HV_PCSC_WORK), for state files and logs. */
const char *harness_work_dir(void);
/* "<work>/<name>" in a static buffer (valid until the next call). */
const char *harness_work_path(const char *name);

/* Starts hsmvault-sim --port <reader port> --state STATE [extra args...]
 * (extra: NULL-terminated, may be NULL) and waits until pcscd sees the card. */
int harness_sim_insert(int idx, const char *state, const char *const *extra);
/* Stops the sim in reader idx and waits until the reader is empty. */
int harness_sim_pull(int idx);
/* For a sim that ends by itself (--drop-after): waits for its exit (at most
 * timeout_ms) and for the empty reader. */
int harness_sim_wait_gone(int idx, int timeout_ms);
/* Stops every sim this process started. */
void harness_sim_pull_all(void);

#endif
