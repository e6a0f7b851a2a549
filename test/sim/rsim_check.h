/*
 * rsim_check.h — the Raft simulator's safety checkers.
 *
 * The simulator reports what it observes (a leader in a term, an entry in a
 * node's log, an index reported committed, an entry applied, a vote granted,
 * a read index served) and these checkers hold the history-wide registries
 * that turn those observations into the Raft safety properties:
 *   election safety      at most one leader per term;
 *   log matching         an (index, term) pair always has the same prefix,
 *                        on every node and at every moment (prefix hashes);
 *   leader completeness  a leader of term T holds every entry committed in
 *                        a term <= T;
 *   state machine safety no two nodes apply different entries at an index;
 *   commit durability    an entry once reported committed is never changed
 *                        or truncated;
 *   vote safety          one granted vote per (voter, term), ever (R5);
 *   read linearizability a read index is never below what was committed
 *                        when the read was asked.
 * Everything is plain memory; no PostgreSQL, no clocks.
 */
#ifndef RSIM_CHECK_H
#define RSIM_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "raft.h"

typedef struct rsim_check rsim_check;

/* A fresh checker with empty registries; abort()s when out of memory. */
rsim_check *rsim_check_new(void);
void		rsim_check_free(rsim_check *c);

/* Record a violation (printf-style); the first one is kept verbatim. */
void		rsim_check_fail(rsim_check *c, uint64_t now, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

/* Number of violations so far, and the first one's text ("" if none). */
int			rsim_check_violations(const rsim_check *c);
const char *rsim_check_first(const rsim_check *c);

/*
 * Prefix hash of a log: chain(i) = mix(chain(i-1), entry i).  Two logs
 * with equal chain at i hold identical entries 1..i (up to hash collision).
 */
uint64_t	rsim_chain_next(uint64_t prev, const mc_raft_entry *e);

/* Node `node` is leader in `term`: election safety. */
void		rsim_check_leader(rsim_check *c, uint64_t now, int node, uint64_t term);

/*
 * Node holds (index, term) with prefix hash chain in its log: log matching.
 * Also fails if another entry is committed at index and this one's term is
 * at or above that commit's term bound (its leader should have held it).
 */
void		rsim_check_entry(rsim_check *c, uint64_t now, int node,
							 uint64_t index, uint64_t term, uint64_t chain);

/* Look up the chain hash registered for (index, term); false if unseen. */
bool		rsim_check_chain_of(const rsim_check *c, uint64_t index,
								uint64_t term, uint64_t *chain);

/*
 * Node, whose current term is node_term, reports index committed and its
 * log holds (term, chain) there: commit durability (nobody ever reported
 * another entry committed there).  The lowest node_term over all reports
 * bounds from above the term in which the entry was committed: every
 * leader of that term or later must hold it (leader completeness).
 */
void		rsim_check_commit(rsim_check *c, uint64_t now, int node,
							  uint64_t node_term, uint64_t index,
							  uint64_t term, uint64_t chain);

/*
 * Highest index ever reported committed, and what is committed at index:
 * entry term, prefix hash, and commit term bound (see above).
 */
uint64_t	rsim_check_max_committed(const rsim_check *c);
bool		rsim_check_committed_at(const rsim_check *c, uint64_t index,
									uint64_t *term, uint64_t *chain,
									uint64_t *commit_term);

/*
 * Node (current term node_term) applied index, reaching state (chain,
 * app_hash): state machine safety.  Also registers the entry as committed.
 */
void		rsim_check_apply(rsim_check *c, uint64_t now, int node,
							 uint64_t node_term, uint64_t index,
							 uint64_t term, uint64_t chain, uint64_t app_hash);

/* The state machine hash registered at index (false if none applied). */
bool		rsim_check_app_hash_at(const rsim_check *c, uint64_t index,
								   uint64_t *app_hash);

/* Voter granted its vote to candidate in term: one vote per term. */
void		rsim_check_vote(rsim_check *c, uint64_t now, int voter,
							uint64_t term, int candidate);

/* The candidate voter granted its vote to in term (0 = none seen). */
int			rsim_check_vote_of(const rsim_check *c, int voter, uint64_t term);

#endif
