/*
 * rsim_log.h — a host-side Raft log for the simulator (used both as a
 * node's disk log and as the mirror of its core's in-memory log): entries
 * after a base point, each with its prefix hash.
 */
#ifndef RSIM_LOG_H
#define RSIM_LOG_H

#include "rsim_world.h"

/* Empty log at base (index, term, chain); frees any entries. */
void		rsim_log_reset(rsim_log *l, uint64_t index, uint64_t term, uint64_t chain);

/* Free everything. */
void		rsim_log_free(rsim_log *l);

/* Last index (base_index when empty). */
uint64_t	rsim_log_last(const rsim_log *l);

/* Chain / term at index (base included); false outside [base, last]. */
bool		rsim_log_chain_at(const rsim_log *l, uint64_t index, uint64_t *chain);
bool		rsim_log_term_at(const rsim_log *l, uint64_t index, uint64_t *term);

/* Drop entries with index >= from (never below the base). */
void		rsim_log_truncate(rsim_log *l, uint64_t from);

/*
 * Append a copy of e, which must have index last + 1; returns false (log
 * untouched) otherwise.  *chain receives the entry's prefix hash.
 */
bool		rsim_log_append(rsim_log *l, const mc_raft_entry *e, uint64_t *chain);

/* Compact: entries up to index are dropped; index becomes the base. */
void		rsim_log_compact(rsim_log *l, uint64_t index);

/* dst becomes a deep copy of src. */
void		rsim_log_copy(rsim_log *dst, const rsim_log *src);

#endif
