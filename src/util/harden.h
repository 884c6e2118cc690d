/* Process hardening done once at start, before any secret is read. */
#ifndef HV_UTIL_HARDEN_H
#define HV_UTIL_HARDEN_H

/* Disables core dumps (RLIMIT_CORE 0, PR_SET_DUMPABLE 0). 0 or -1. */
int harden_process(void);

#endif
