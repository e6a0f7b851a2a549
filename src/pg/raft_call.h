/*
 * raft_call.h — the backend side of the request queue: put a request into
 * this backend's slot, wake the raft worker, and wait (on a condition
 * variable, i.e. the backend's latch) for the outcome; plus waiting for the
 * local applied index.  Errors are raised with the SPEC §5 SQLSTATEs.
 */
#ifndef MC_RAFT_CALL_H
#define MC_RAFT_CALL_H

#include "postgres.h"

#define ERRCODE_MC_COMMIT_TIMEOUT	MAKE_SQLSTATE('M','C','0','0','1')
#define ERRCODE_MC_NOT_LEADER		MAKE_SQLSTATE('M','C','0','0','2')
#define ERRCODE_MC_NO_LEADER		MAKE_SQLSTATE('M','C','0','0','3')

typedef struct McRaftCallResult
{
	int			err;			/* mc_raft_err */
	uint64		index;
	bool		reply_valid;
	char	   *reply;			/* palloc'd text of the reply, or NULL */
} McRaftCallResult;

/*
 * Send one request and wait up to timeout_ms for its completion.  Returns
 * false on timeout (the slot is released; the outcome is unknown).
 * ERROR (MC003) when the raft worker is not running.
 */
extern bool mc_raft_call(int kind, const char *data, uint32 len,
						 uint32 arg_node, uint8 arg_op, int timeout_ms,
						 McRaftCallResult *out);

/*
 * Wait until this node has applied idx; timeout_ms < 0 waits without a
 * limit (cancel or statement_timeout still interrupt).  True when applied.
 */
extern bool mc_raft_wait_applied(uint64 idx, int timeout_ms);

/*
 * ERROR with the SPEC SQLSTATE for a core error code (never returns).  what
 * names the refused operation ("this write", "the read barrier").  rid is
 * the request id the caller gave a refused write, offered in the hint for
 * a retry; NULL for anything else, and for a write whose id was generated
 * (the caller does not know it).
 */
extern void mc_raft_raise_for(int err, const char *what, const char *rid) pg_attribute_noreturn();
#define mc_raft_raise(err, what) mc_raft_raise_for((err), (what), NULL)

/*
 * In redirect mode on a non-leader, ERROR with MC002 naming the leader's
 * SQL address (MC003 when no leader is known); otherwise return.
 */
extern void mc_raft_check_redirect(void);

/* The raft_commit_timeout setting in ms. */
extern int	mc_raft_commit_timeout(void);

#endif
