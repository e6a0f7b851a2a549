/*
 * jmap_changes.h — the change log of the JMAP state machine (jmap_changes.c).
 */
#ifndef MC_JMAP_CHANGES_H
#define MC_JMAP_CHANGES_H

/*
 * Record that obj of type typ ("Mailbox", "Email", "Thread") in account
 * changed at the index being applied; kind 'c', 'u' or 'd' (a create stays
 * a create and a destroy wins within one index).  SPI must be connected;
 * only inside _apply.
 */
extern void mc_jmap_record_change(const char *account, const char *typ,
								  const char *obj, char kind);

#endif
