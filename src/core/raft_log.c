/*
 * raft_log.c — the in-memory Raft log since the last snapshot.
 *
 * Owns the entry array, index/term lookups, append, truncation of a
 * conflicting suffix, compaction behind a snapshot and the log up-to-date
 * comparison used by elections.  Knows nothing about roles or messages.
 */
#include "raft_int.h"

#include <stdlib.h>
#include <string.h>

/* Deep copy of an entry (data duplicated).  0 or -1 on out of memory. */
int
mc_raft_entry_copy(mc_raft_entry *dst, const mc_raft_entry *src)
{
	*dst = *src;
	dst->data = NULL;
	if (src->len > 0)
	{
		dst->data = malloc(src->len);
		if (dst->data == NULL)
			return -1;
		memcpy(dst->data, src->data, src->len);
	}
	return 0;
}

/* Free an entry's data (not the entry itself). */
void
mc_raft_entry_free(mc_raft_entry *e)
{
	free(e->data);
	e->data = NULL;
	e->len = 0;
}

/* Index of the last entry (the snapshot index when the log is empty). */
uint64_t
mc_raft_log_last_index(const mc_raft_log *l)
{
	return l->snap_index + l->n;
}

/* Term of the last entry (the snapshot term when the log is empty). */
uint64_t
mc_raft_log_last_term(const mc_raft_log *l)
{
	return l->n ? l->ents[l->n - 1].term : l->snap_term;
}

/*
 * Term of the entry at index into *term.  False when the index is compacted
 * away (below the snapshot) or beyond the last entry.
 */
bool
mc_raft_log_term(const mc_raft_log *l, uint64_t index, uint64_t *term)
{
	if (index == l->snap_index)
	{
		*term = l->snap_term;
		return true;
	}
	if (index < l->snap_index || index > mc_raft_log_last_index(l))
	{
		*term = 0;
		return false;
	}
	*term = l->ents[index - l->snap_index - 1].term;
	return true;
}

/* Entry at index, or NULL when not held. */
mc_raft_entry *
mc_raft_log_at(const mc_raft_log *l, uint64_t index)
{
	if (index <= l->snap_index || index > mc_raft_log_last_index(l))
		return NULL;
	return &l->ents[index - l->snap_index - 1];
}

/*
 * Append a deep copy of e; e->index must be last index + 1.  0 or -1.
 */
int
mc_raft_log_append(mc_raft_log *l, const mc_raft_entry *e)
{
	if (e->index != mc_raft_log_last_index(l) + 1)
		return -1;
	if (l->n == l->cap)
	{
		size_t		ncap = l->cap ? l->cap * 2 : 64;
		mc_raft_entry *p = realloc(l->ents, ncap * sizeof(*p));

		if (p == NULL)
			return -1;
		l->ents = p;
		l->cap = ncap;
	}
	if (mc_raft_entry_copy(&l->ents[l->n], e) != 0)
		return -1;
	l->n++;
	return 0;
}

/*
 * Drop entries with index >= from (from > snap_index).  Lowers stable so
 * that the replacement entries are handed out for persistence again.
 */
void
mc_raft_log_truncate(mc_raft_log *l, uint64_t from)
{
	if (from <= l->snap_index)
		from = l->snap_index + 1;
	while (mc_raft_log_last_index(l) >= from && l->n > 0)
	{
		l->n--;
		mc_raft_entry_free(&l->ents[l->n]);
	}
	if (l->stable >= from)
		l->stable = from - 1;
}

/*
 * Drop entries up to and including index (a snapshot covers them); term is
 * the term of index.  index must not exceed the last index.
 */
void
mc_raft_log_compact(mc_raft_log *l, uint64_t index, uint64_t term)
{
	size_t		k;

	if (index <= l->snap_index)
		return;
	k = (size_t) (index - l->snap_index);
	if (k > l->n)
		k = l->n;
	for (size_t i = 0; i < k; i++)
		mc_raft_entry_free(&l->ents[i]);
	memmove(l->ents, l->ents + k, (l->n - k) * sizeof(*l->ents));
	l->n -= k;
	l->snap_index = index;
	l->snap_term = term;
	if (l->stable < index)
		l->stable = index;
}

/* Discard everything: the log restarts after snapshot (index, term). */
void
mc_raft_log_reset(mc_raft_log *l, uint64_t index, uint64_t term)
{
	for (size_t i = 0; i < l->n; i++)
		mc_raft_entry_free(&l->ents[i]);
	l->n = 0;
	l->snap_index = index;
	l->snap_term = term;
	l->stable = index;
	if (l->committed < index)
		l->committed = index;
	if (l->applied < index)
		l->applied = index;
}

void
mc_raft_log_free(mc_raft_log *l)
{
	for (size_t i = 0; i < l->n; i++)
		mc_raft_entry_free(&l->ents[i]);
	free(l->ents);
	l->ents = NULL;
	l->n = l->cap = 0;
}

/*
 * Election restriction (thesis 3.6.1): is a log ending at (index, term) at
 * least as up-to-date as ours?
 */
bool
mc_raft_log_up_to_date(const mc_raft_log *l, uint64_t index, uint64_t term)
{
	uint64_t	lt = mc_raft_log_last_term(l);

	return term > lt || (term == lt && index >= mc_raft_log_last_index(l));
}

/*
 * Fast back-off helper: the largest index <= index whose term is <= term
 * (the snapshot index when every held entry above it has a larger term).
 * Used by a follower to build a reject hint and by the leader to turn the
 * hint into the next index to probe.
 */
uint64_t
mc_raft_log_find_by_term(const mc_raft_log *l, uint64_t index, uint64_t term)
{
	uint64_t	last = mc_raft_log_last_index(l);

	if (index > last)
		index = last;
	for (uint64_t i = index; i > l->snap_index; i--)
		if (l->ents[i - l->snap_index - 1].term <= term)
			return i;
	return index < l->snap_index ? index : l->snap_index;
}
