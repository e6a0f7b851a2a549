/*
 * session_state.h — the JMAP session state of every jmap() response (the
 * creation index of the newest account), kept in shared memory so a
 * request does not run a statement for it.  See session_state.c.
 */
#ifndef MC_SESSION_STATE_H
#define MC_SESSION_STATE_H

#include "postgres.h"

/*
 * In the transaction that created an account at created_idx (the
 * account_create op): the session state to publish when it commits.  SPI
 * must be connected (the table is read when nothing is published yet).
 */
extern void mc_session_state_note_account(int64 created_idx);

/*
 * In a transaction that replaces the accounts (a snapshot install): the
 * published value is withdrawn when it commits.
 */
extern void mc_session_state_forget_at_commit(void);

/*
 * The session state: the published value when it describes this
 * database's mailcluster.accounts, else read from the table (0 without
 * accounts).  Connects SPI itself when it reads.
 */
extern int64 mc_session_state_current(void);

#endif
