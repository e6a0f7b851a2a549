/*
 * jmap_changes.h — the change log of the JMAP state machine (jmap_changes.c).
 */
#ifndef MC_JMAP_CHANGES_H
#define MC_JMAP_CHANGES_H

#include "postgres.h"

/*
 * Record that obj of type typ ("Mailbox", "Email", "Thread") in account
 * changed at the index being applied; kind 'c', 'u' or 'd' (a create stays
 * a create and a destroy wins within one index).  SPI must be connected;
 * only inside _apply.
 */
extern void mc_jmap_record_change(const char *account, const char *typ,
								  const char *obj, char kind);

/*
 * The JMAP state string of type typ in account (as _state), palloc'd; NULL
 * for an unknown account without changes.  Sees this command's writes so
 * far (a VOLATILE caller's view).  SPI must be connected.
 */
extern char *mc_jmap_state_of(Datum account, const char *typ);

/*
 * Record n changes of one kind in account at the index being applied, in
 * one INSERT: object objs[i] of type typs[i].  The pairs must be distinct.
 * SPI must be connected; only inside _apply.
 */
extern void mc_jmap_record_changes(const char *account, int n,
								   const char *const *typs,
								   const char *const *objs, char kind);

/*
 * How many Email change rows this process has recorded (every path goes
 * through mc_jmap_record_change, _change() or mc_jmap_record_changes).
 * A command that recorded one has made the index being applied its
 * account's Email state, with no lookup (email_set's newState).
 */
extern uint64 mc_jmap_email_changes_recorded(void);

#endif
