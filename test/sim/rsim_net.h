/*
 * rsim_net.h — the Raft simulator's network: a time-ordered queue of
 * in-flight messages between node ids 1..RSIM_MAX_NODES-1, with per-link
 * loss, random delay (which reorders), duplication, and one-way cuts
 * (a two-way partition is two one-way cuts).  Messages are opaque blobs
 * owned by the network until delivered; deterministic given the PRNG.
 */
#ifndef RSIM_NET_H
#define RSIM_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rsim_rng.h"

#define RSIM_MAX_NODES 12		/* node ids are 1..RSIM_MAX_NODES-1 */

typedef struct rsim_msg
{
	uint64_t	deliver_at;		/* simulated ms */
	uint64_t	seq;			/* send order, breaks ties deterministically */
	int			from;
	int			to;
	void	   *data;			/* owned by whoever holds the rsim_msg */
	size_t		len;
} rsim_msg;

typedef struct rsim_net
{
	rsim_rng   *rng;
	unsigned	loss[RSIM_MAX_NODES][RSIM_MAX_NODES];	/* permille, per link */
	bool		cut[RSIM_MAX_NODES][RSIM_MAX_NODES];	/* from -> to blocked */
	unsigned	dup_permille;
	uint64_t	delay_min;
	uint64_t	delay_max;
	unsigned	slow_permille;	/* messages that take a long path */
	uint64_t	slow_max;		/* ... of up to this many ms */
	rsim_msg   *heap;
	size_t		nheap;
	size_t		capheap;
	uint64_t	seq;
	void		(*free_data) (void *data);
	uint64_t	n_sent, n_lost, n_cut, n_dup, n_delivered;
} rsim_net;

/*
 * Initialise an empty, healthy network (no loss, delay 1..5 ms).  free_data
 * releases a message payload the network drops (NULL: use free()).
 */
void		rsim_net_init(rsim_net *net, rsim_rng *rng, void (*free_data) (void *));

/* Release every in-flight message and the queue itself. */
void		rsim_net_free(rsim_net *net);

/*
 * Send a message: takes ownership of data.  It may be lost (link loss or a
 * cut at send time), delayed by delay_min..delay_max (slow_permille of
 * them by up to slow_max: stragglers that arrive long after newer ones), or
 * duplicated (the copy gets its own delay; dup_data copies the payload,
 * NULL = memcpy).
 */
void		rsim_net_send(rsim_net *net, uint64_t now, int from, int to,
						  void *data, size_t len,
						  void *(*dup_data) (const void *, size_t));

/* Earliest delivery time in the queue; false when nothing is in flight. */
bool		rsim_net_next_time(const rsim_net *net, uint64_t *t);

/*
 * Pop the earliest message due at or before now into *out (caller then owns
 * out->data).  A message whose link was cut while in flight is dropped here
 * and never returned.  Returns false when nothing is due.
 */
bool		rsim_net_pop(rsim_net *net, uint64_t now, rsim_msg *out);

/* Drop every in-flight message addressed to or sent by node id. */
void		rsim_net_drop_node(rsim_net *net, int id);

/* Set or clear the one-way cut from -> to. */
void		rsim_net_set_cut(rsim_net *net, int from, int to, bool cut);

/* Remove every cut and every link loss; keeps delay and duplication. */
void		rsim_net_heal(rsim_net *net);

#endif
