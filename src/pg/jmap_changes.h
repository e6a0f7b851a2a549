/*
 * jmap_changes.h — the change log of the JMAP state machine (jmap_changes.c).
 */
#ifndef MC_JMAP_CHANGES_H
#define MC_JMAP_CHANGES_H

#include "postgres.h"

/*
 * The JMAP state string of type typ in account (as _state), palloc'd; NULL
 * for an unknown account without changes.  Sees this command's writes so
 * far (a VOLATILE caller's view).  SPI must be connected.
 */
extern char *mc_jmap_state_of(Datum account, const char *typ);

/*
 * Record that objs[i] of type typs[i] ("Mailbox", "Email", "Thread") in
 * account changed at the index being applied, for i < n, in one INSERT;
 * kind 'c', 'u' or 'd' (a create stays a create and a destroy wins within
 * one index).  The pairs must be distinct.  SPI must be connected; only
 * inside _apply.  (SQL code records through _change().)
 */
extern void mc_jmap_record_changes(const char *account, int n,
								   const char *const *typs,
								   const char *const *objs, char kind);

/*
 * How many Email change rows this process has recorded (every path goes
 * through _change() or mc_jmap_record_changes).
 * A command that recorded one has made the index being applied its
 * account's Email state, with no lookup (email_set's newState).
 */
extern uint64 mc_jmap_email_changes_recorded(void);

#endif
