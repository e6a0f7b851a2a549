/*
 * rpc_net.c — the raft worker's TCP connections (see rpc_net.h): listener,
 * non-blocking connects with capped jittered back-off, the rpcsec channel
 * on every connection, the WaitEventSet wait, frame dispatch, and fast
 * failover (the leader's connection closing starts a pre-vote at once).
 */
#include "postgres.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "mc_keys.h"
#include "mc_metrics.h"
#include "mc_shmem.h"
#include "rpc_net.h"
#include "rpcsec.h"
#include "raft_shmem.h"

#define MC_RPC_MAX_CONNS	64
#define MC_RPC_BACKOFF_MIN	50		/* ms */
#define MC_RPC_BACKOFF_MAX	2000	/* ms */

typedef struct McConn
{
	bool		used;
	bool		outbound;
	bool		connecting;		/* non-blocking connect under way */
	bool		broken;			/* close at the next opportunity */
	bool		was_established;
	uint32		peer;			/* expected (outbound) / learnt (inbound) */
	int			fd;
	TimestampTz opened;
	mc_rpcsec	ch;
	int			wpos;			/* its event in rpc->wset, waiting for wev */
	uint32		wev;
} McConn;

typedef struct McBackoff
{
	uint32		id;
	int			ms;
	TimestampTz next_try;
} McBackoff;

typedef struct McRpc
{
	int			listen_fd;
	mc_keyring	kr;
	size_t		max_frame;
	McConn		conns[MC_RPC_MAX_CONNS];
	McBackoff	backoff[MC_RPC_MAX_CONNS];
	uint8	   *buf;			/* encode buffer, max_frame bytes */
	WaitEventSet *wset;			/* kept across waits; rebuilt when stale */
	bool		wset_stale;		/* a connection opened or closed since */
} McRpc;

/* Count into the shared metrics. */
static void
count(uint64 *ctr, int n)
{
	LWLockAcquire(McRaft->lock, LW_EXCLUSIVE);
	*ctr += n;
	LWLockRelease(McRaft->lock);
}

/* Count a dropped frame, and its reason in the foundation's metrics. */
static void
drop(int metric)
{
	count(&McRaft->n_msgs_dropped, 1);
	if (metric >= 0)
		mc_metric_add((McMetric) metric, 1);
}

/* See rpc_net.h. */
bool
mc_rpc_fault_blocked(uint32 node_id)
{
	bool		b;

	if (mc_shared == NULL)
		return false;
	LWLockAcquire(mc_shared->lock, LW_SHARED);
	b = mc_shared->n_blocked > 0 && mc_fault_is_blocked_locked(mc_shared, (int) node_id);
	LWLockRelease(mc_shared->lock);
	return b;
}

/* See rpc_net.h. */
bool
mc_rpc_member_info(uint32 node_id, char *addr, size_t addrlen, int *rpc_port,
				   bool *alive, bool *replica)
{
	int			i;
	bool		found = false;

	if (mc_shared == NULL)
		return false;
	LWLockAcquire(mc_shared->lock, LW_SHARED);
	for (i = 0; i < mc_shared->n_members; i++)
	{
		McMemberSlot *m = &mc_shared->members[i];

		if (m->node_id != node_id)
			continue;
		if (addr)
			strlcpy(addr, m->addr, addrlen);
		if (rpc_port)
			*rpc_port = m->rpc_port;
		if (alive)
			*alive = (m->state == MC_MEMBER_ALIVE || m->state == MC_MEMBER_SUSPECT);
		if (replica)
			*replica = m->replica;
		found = true;
		break;
	}
	LWLockRelease(mc_shared->lock);
	return found;
}

/* Make fd non-blocking with TCP_NODELAY. */
static void
prepare_socket(int fd)
{
	int			one = 1;

	(void) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	(void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	(void) fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* Open the listener on bind_addr:rpc_port and load the keyring. */
void
mc_rpc_start(McRaftWorker *w)
{
	McRpc	   *rpc = MemoryContextAllocZero(w->mcxt, sizeof(McRpc));
	struct addrinfo hints,
			   *res = NULL;
	char		port[16];
	char		err[256];
	int			one = 1;
	int			rc;
	int			i;

	if (!mc_keys_load(&rpc->kr, err, sizeof(err)))
		ereport(FATAL,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("mailcluster: cannot load the cluster key for Raft RPC: %s", err)));
	/* every node takes a lone entry of MC_RAFT_ENTRY_MAX from any leader */
	rpc->max_frame = (size_t) Max(w->set.batch_max, MC_RAFT_ENTRY_MAX) + 65536;
	rpc->buf = MemoryContextAlloc(w->mcxt, rpc->max_frame + MC_RPC_HEADER);
	for (i = 0; i < MC_RPC_MAX_CONNS; i++)
		rpc->conns[i].fd = -1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(port, sizeof(port), "%d", w->set.rpc_port);
	rc = getaddrinfo(w->set.bind_addr[0] ? w->set.bind_addr : NULL, port, &hints, &res);
	if (rc != 0 || res == NULL)
		ereport(FATAL,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("mailcluster: cannot resolve mailcluster.bind_addr \"%s\": %s",
						w->set.bind_addr, gai_strerror(rc))));
	rpc->listen_fd = socket(res->ai_family, SOCK_STREAM, 0);
	if (rpc->listen_fd < 0)
		ereport(FATAL, (errcode_for_socket_access(),
						errmsg("mailcluster: could not create the Raft RPC socket: %m")));
	(void) setsockopt(rpc->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(rpc->listen_fd, res->ai_addr, res->ai_addrlen) < 0 ||
		listen(rpc->listen_fd, 64) < 0)
		ereport(FATAL,
				(errcode_for_socket_access(),
				 errmsg("mailcluster: could not listen for Raft RPC on %s:%d: %m",
						w->set.bind_addr, w->set.rpc_port),
				 errhint("Check mailcluster.rpc_port; another process may be using it.")));
	freeaddrinfo(res);
	prepare_socket(rpc->listen_fd);
	w->rpc = rpc;
	ereport(LOG, (errmsg("mailcluster: Raft RPC listening on %s:%d",
						 w->set.bind_addr, w->set.rpc_port)));
}

/* See rpc_net.h: new connections use the reloaded ring, old ones keep theirs. */
void
mc_rpc_reload_keys(McRaftWorker *w)
{
	mc_keyring	kr;
	char		err[256];

	if (w->rpc == NULL)
		return;
	if (!mc_keys_load(&kr, err, sizeof(err)))
	{
		ereport(WARNING,
				(errmsg("mailcluster: keeping the previous Raft RPC keys: %s", err)));
		return;
	}
	mc_crypto_keyring_clear(&w->rpc->kr);
	w->rpc->kr = kr;
	mc_crypto_keyring_clear(&kr);
}

/* Back-off record for a peer (created on demand). */
static McBackoff *
backoff_of(McRpc *rpc, uint32 id)
{
	int			i,
				free_i = -1;

	for (i = 0; i < MC_RPC_MAX_CONNS; i++)
	{
		if (rpc->backoff[i].id == id)
			return &rpc->backoff[i];
		if (rpc->backoff[i].id == 0 && free_i < 0)
			free_i = i;
	}
	if (free_i < 0)
		free_i = (int) (id % MC_RPC_MAX_CONNS);
	rpc->backoff[free_i].id = id;
	rpc->backoff[free_i].ms = 0;
	rpc->backoff[free_i].next_try = 0;
	return &rpc->backoff[free_i];
}

/* A free connection slot, or NULL. */
static McConn *
conn_alloc(McRpc *rpc)
{
	int			i;

	for (i = 0; i < MC_RPC_MAX_CONNS; i++)
		if (!rpc->conns[i].used)
		{
			McConn	   *c = &rpc->conns[i];

			memset(c, 0, sizeof(*c));
			c->used = true;
			c->fd = -1;
			c->opened = GetCurrentTimestamp();
			rpc->wset_stale = true; /* its socket is not in the wait set */
			return c;
		}
	return NULL;
}

/* The outgoing connection to peer, or NULL. */
static McConn *
find_out(McRpc *rpc, uint32 peer)
{
	int			i;

	for (i = 0; i < MC_RPC_MAX_CONNS; i++)
		if (rpc->conns[i].used && rpc->conns[i].outbound && rpc->conns[i].peer == peer)
			return &rpc->conns[i];
	return NULL;
}

/*
 * Close c.  An outgoing connection sets the peer's back-off (doubling up
 * to MC_RPC_BACKOFF_MAX, +-50% jitter).  If the peer was our leader, tell
 * the core at once (fast failover; pre-vote keeps it harmless).
 */
static void
conn_close(McRaftWorker *w, McConn *c, const char *why)
{
	McRpc	   *rpc = w->rpc;
	uint32		peer = c->peer;

	if (c->outbound)
	{
		McBackoff  *b = backoff_of(rpc, peer);
		long		jitter;

		b->ms = c->was_established ? MC_RPC_BACKOFF_MIN :
			Min(MC_RPC_BACKOFF_MAX, Max(MC_RPC_BACKOFF_MIN, b->ms * 2));
		jitter = (long) (random() % (b->ms + 1)) - b->ms / 2;
		b->next_try = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), b->ms + jitter);
	}
	if (c->was_established)
		ereport(DEBUG1, (errmsg("mailcluster: Raft connection %s node %u closed: %s",
								c->outbound ? "to" : "from", peer, why)));
	if (c->fd >= 0)
		close(c->fd);
	mc_rpcsec_free(&c->ch);
	c->used = false;
	c->fd = -1;
	w->rpc->wset_stale = true;	/* its fd left the epoll set; the slot may be reused */
	if (w->core && peer != 0 && c->was_established && peer == w->last_leader && peer != w->id)
		mc_raft_leader_lost(w->core);
}

/* Start a non-blocking connection to peer if none and back-off allows. */
static McConn *
ensure_out(McRaftWorker *w, uint32 peer)
{
	McRpc	   *rpc = w->rpc;
	McConn	   *c = find_out(rpc, peer);
	McBackoff  *b;
	char		addr[MC_ADDR_LEN];
	char		port[16];
	int			rpc_port = 0;
	bool		alive = false;
	struct addrinfo hints,
			   *res = NULL;
	int			fd;

	if (c != NULL)
		return c;
	b = backoff_of(rpc, peer);
	if (GetCurrentTimestamp() < b->next_try)
		return NULL;
	if (!mc_rpc_member_info(peer, addr, sizeof(addr), &rpc_port, &alive, NULL) ||
		addr[0] == '\0' || rpc_port <= 0)
		return NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%d", rpc_port);
	if (getaddrinfo(addr, port, &hints, &res) != 0 || res == NULL)
		return NULL;
	c = conn_alloc(rpc);
	if (c == NULL)
	{
		freeaddrinfo(res);
		return NULL;
	}
	c->outbound = true;
	c->peer = peer;
	fd = socket(res->ai_family, SOCK_STREAM, 0);
	if (fd < 0)
	{
		freeaddrinfo(res);
		c->used = false;
		return NULL;
	}
	prepare_socket(fd);
	c->fd = fd;
	if (connect(fd, res->ai_addr, res->ai_addrlen) < 0)
	{
		if (errno == EINPROGRESS)
			c->connecting = true;
		else
			c->broken = true;
	}
	freeaddrinfo(res);
	if (mc_rpcsec_init_client(&c->ch, &rpc->kr, (uint16) w->id, (uint16) peer,
							  rpc->max_frame) != MC_RPCSEC_OK)
		c->broken = true;
	return c;
}

/* See rpc_net.h. */
void
mc_rpc_connect(McRaftWorker *w, uint32 peer)
{
	if (w->rpc != NULL && peer != 0 && peer != w->id && !mc_rpc_fault_blocked(peer))
		(void) ensure_out(w, peer);
}

/* Write as much pending output as the socket takes. */
static void
conn_flush(McConn *c)
{
	const uint8_t *p;
	size_t		n;

	if (c->connecting || c->broken || c->fd < 0)
		return;
	while ((p = mc_rpcsec_pending(&c->ch, &n)) != NULL && n > 0)
	{
		ssize_t		wr = send(c->fd, p, n, MSG_NOSIGNAL);

		if (wr > 0)
			mc_rpcsec_written(&c->ch, (size_t) wr);
		else
		{
			if (wr < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				c->broken = true;
			break;
		}
	}
}

/* See rpc_net.h. */
void
mc_rpc_send_frame(McRaftWorker *w, uint32 to, uint8 kind, const uint8 *body, size_t len)
{
	McRpc	   *rpc = w->rpc;
	McConn	   *c;
	uint8	   *f = rpc->buf;
	int			i;

	if (rpc == NULL || to == w->id || to == 0)
		return;
	if (mc_rpc_fault_blocked(to))
	{
		drop(MC_METRIC_RAFT_RPC_DROP_FAULT_INJECTED);
		return;
	}
	c = ensure_out(w, to);
	if (c == NULL || c->broken || !mc_rpcsec_established(&c->ch) ||
		len + MC_RPC_HEADER > rpc->max_frame)
	{
		count(&McRaft->n_msgs_dropped, 1);
		return;
	}
	if (body != f + MC_RPC_HEADER && len > 0)
		memmove(f + MC_RPC_HEADER, body, len);
	f[0] = kind;
	for (i = 0; i < 8; i++)
		f[1 + i] = (uint8) (w->cluster_id >> (56 - 8 * i));
	if (mc_rpcsec_send(&c->ch, f, len + MC_RPC_HEADER) != MC_RPCSEC_OK)
	{
		count(&McRaft->n_msgs_dropped, 1);
		return;
	}
	count(&McRaft->n_msgs_sent, 1);
	mc_metric_add(MC_METRIC_RAFT_RPC_SENT, 1);
}

/* See rpc_net.h. */
void
mc_rpc_send_msg(McRaftWorker *w, const mc_raft_msg *m)
{
	McRpc	   *rpc = w->rpc;
	int64		n;

	if (rpc == NULL)
		return;
	n = mc_raft_msg_encode(m, rpc->buf + MC_RPC_HEADER, rpc->max_frame - MC_RPC_HEADER);
	if (n < 0)
	{
		ereport(WARNING, (errmsg("mailcluster: cannot encode a Raft %s message to node %u",
								 mc_raft_msg_type_name(m->type), m->to)));
		count(&McRaft->n_msgs_dropped, 1);
		return;
	}
	mc_rpc_send_frame(w, m->to, MC_RPC_KIND_RAFT, rpc->buf + MC_RPC_HEADER, (size_t) n);
}

/* One decrypted frame from peer `from`. */
static void
dispatch_frame(McRaftWorker *w, uint32 from, const uint8 *f, size_t len)
{
	uint64		cid = 0;
	int			i;
	uint8		kind;

	if (mc_rpc_fault_blocked(from))
	{
		drop(MC_METRIC_RAFT_RPC_DROP_FAULT_INJECTED);
		return;
	}
	if (len < MC_RPC_HEADER || from == 0)
	{
		drop(MC_METRIC_RAFT_RPC_DROP_MALFORMED);
		return;
	}
	kind = f[0];
	for (i = 0; i < 8; i++)
		cid = (cid << 8) | f[1 + i];
	count(&McRaft->n_msgs_recv, 1);
	mc_metric_add(MC_METRIC_RAFT_RPC_RECEIVED, 1);
	if (kind != MC_RPC_KIND_RAFT)
	{
		mc_rpc_handle_control(w, from, kind, cid, f + MC_RPC_HEADER, len - MC_RPC_HEADER);
		return;
	}
	if (w->core == NULL || cid != w->cluster_id)
	{
		count(&McRaft->n_msgs_dropped, 1);
		return;
	}
	{
		mc_raft_msg m;

		if (mc_raft_msg_decode(f + MC_RPC_HEADER, len - MC_RPC_HEADER, &m) != 0)
		{
			drop(MC_METRIC_RAFT_RPC_DROP_MALFORMED);
			return;
		}
		if (m.from != from || m.to != w->id)
		{
			/* a peer may only speak for itself, and only to us */
			mc_raft_msg_free_decoded(&m);
			drop(MC_METRIC_RAFT_RPC_DROP_MALFORMED);
			return;
		}
		(void) mc_raft_step(w->core, &m);
		mc_raft_msg_free_decoded(&m);
	}
}

/* Read everything available on c and dispatch its frames. */
static void
conn_read(McRaftWorker *w, McConn *c)
{
	uint8		buf[65536];

	for (;;)
	{
		ssize_t		r = recv(c->fd, buf, sizeof(buf), 0);
		mc_rpcsec_status st;
		const uint8_t *frame;
		size_t		flen;

		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			break;
		if (r <= 0)
		{
			(void) mc_rpcsec_eof(&c->ch);
			c->broken = true;
			break;
		}
		st = mc_rpcsec_feed(&c->ch, buf, (size_t) r);
		while (st == MC_RPCSEC_OK &&
			   (st = mc_rpcsec_next_frame(&c->ch, &frame, &flen)) == MC_RPCSEC_OK && frame)
		{
			dispatch_frame(w, mc_rpcsec_peer_id(&c->ch), frame, flen);
		}
		if (st != MC_RPCSEC_OK)
		{
			ereport(LOG,
					(errmsg("mailcluster: dropping Raft connection %s node %u: %s",
							c->outbound ? "to" : "from", c->peer, mc_rpcsec_status_name(st))));
			drop(st == MC_RPCSEC_ERR_AUTH || st == MC_RPCSEC_ERR_PEER ?
				 MC_METRIC_RAFT_RPC_DROP_AUTH_FAILED : MC_METRIC_RAFT_RPC_DROP_MALFORMED);
			c->broken = true;
			break;
		}
		if (mc_rpcsec_established(&c->ch))
		{
			if (!c->outbound && c->peer == 0)
			{
				/* the peer (re)connected to us: connect back now, no back-off */
				c->peer = mc_rpcsec_peer_id(&c->ch);
				backoff_of(w->rpc, c->peer)->next_try = 0;
				if (find_out(w->rpc, c->peer) == NULL)
					mc_rpc_connect(w, c->peer);
			}
			c->was_established = true;
			if (c->outbound)
				backoff_of(w->rpc, c->peer)->ms = 0;
		}
		conn_flush(c);			/* handshake replies */
	}
}

/* Accept every pending incoming connection. */
static void
accept_all(McRaftWorker *w)
{
	McRpc	   *rpc = w->rpc;

	for (;;)
	{
		int			fd = accept(rpc->listen_fd, NULL, NULL);
		McConn	   *c;

		if (fd < 0)
			break;
		c = conn_alloc(rpc);
		if (c == NULL)
		{
			close(fd);
			continue;
		}
		prepare_socket(fd);
		c->fd = fd;
		c->outbound = false;
		if (mc_rpcsec_init_server(&c->ch, &rpc->kr, (uint16) w->id, rpc->max_frame) != MC_RPCSEC_OK)
			c->broken = true;
	}
}

/* Finish a non-blocking connect. */
static void
conn_connected(McConn *c)
{
	int			err = 0;
	socklen_t	elen = sizeof(err);

	c->connecting = false;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 || err != 0)
		c->broken = true;
	else
		conn_flush(c);			/* the HELLO */
}

/* See rpc_net.h. */
void
mc_rpc_flush_all(McRaftWorker *w, int wait_ms)
{
	int			i;

	if (w->rpc == NULL)
		return;
	for (i = 0; i < MC_RPC_MAX_CONNS; i++)
		if (w->rpc->conns[i].used)
			conn_flush(&w->rpc->conns[i]);
	if (wait_ms > 0)
		pg_usleep(Min(wait_ms, 200) * 1000L);
}

/* Close broken connections and those stuck in the handshake. */
static void
reap(McRaftWorker *w)
{
	TimestampTz now = GetCurrentTimestamp();
	int			i;

	for (i = 0; i < MC_RPC_MAX_CONNS; i++)
	{
		McConn	   *c = &w->rpc->conns[i];

		if (!c->used)
			continue;
		if (!c->broken && !mc_rpcsec_established(&c->ch) &&
			TimestampDifferenceExceeds(c->opened, now, w->set.election_timeout_ms))
			c->broken = true;
		if (!c->broken && mc_rpc_fault_blocked(c->peer) && c->peer != 0)
			c->broken = true;
		if (c->broken)
			conn_close(w, c, "closed");
	}
}

/* The events connection c should wait for now. */
static uint32
conn_wait_events(McConn *c)
{
	size_t		pend = 0;

	if (c->connecting)
		return WL_SOCKET_WRITEABLE;
	(void) mc_rpcsec_pending(&c->ch, &pend);
	return pend > 0 ? (WL_SOCKET_READABLE | WL_SOCKET_WRITEABLE) : WL_SOCKET_READABLE;
}

/*
 * The WaitEventSet for the next wait: kept across waits (creating one per
 * wait cost an epoll_create, one epoll_ctl per socket and a close every
 * time), with each connection's events adjusted in place; rebuilt only
 * when a connection was opened or closed since (conn_alloc, conn_close).
 */
static WaitEventSet *
wait_set(McRpc *rpc)
{
	int			i;

	if (rpc->wset != NULL && !rpc->wset_stale)
	{
		for (i = 0; i < MC_RPC_MAX_CONNS; i++)
		{
			McConn	   *c = &rpc->conns[i];
			uint32		ev;

			if (!c->used || c->fd < 0)
				continue;
			ev = conn_wait_events(c);
			if (ev != c->wev)
			{
				ModifyWaitEvent(rpc->wset, c->wpos, ev, NULL);
				c->wev = ev;
			}
		}
		return rpc->wset;
	}

	if (rpc->wset)
		FreeWaitEventSet(rpc->wset);
	rpc->wset = CreateWaitEventSet(TopMemoryContext, MC_RPC_MAX_CONNS + 3);
	AddWaitEventToSet(rpc->wset, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(rpc->wset, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	AddWaitEventToSet(rpc->wset, WL_SOCKET_READABLE, rpc->listen_fd, NULL, NULL);
	for (i = 0; i < MC_RPC_MAX_CONNS; i++)
	{
		McConn	   *c = &rpc->conns[i];

		if (!c->used || c->fd < 0)
			continue;
		c->wev = conn_wait_events(c);
		c->wpos = AddWaitEventToSet(rpc->wset, c->wev, c->fd, NULL, c);
	}
	rpc->wset_stale = false;
	return rpc->wset;
}

/* See rpc_net.h. */
void
mc_rpc_wait_and_receive(McRaftWorker *w, long timeout_ms)
{
	McRpc	   *rpc = w->rpc;
	WaitEventSet *set;
	WaitEvent	events[MC_RPC_MAX_CONNS + 3];
	int			n,
				i;

	reap(w);
	set = wait_set(rpc);
	n = WaitEventSetWait(set, timeout_ms, events, lengthof(events), PG_WAIT_EXTENSION);
	for (i = 0; i < n; i++)
	{
		WaitEvent  *e = &events[i];
		McConn	   *c = (McConn *) e->user_data;

		if (e->events & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			continue;
		}
		if (e->fd == rpc->listen_fd && c == NULL)
		{
			accept_all(w);
			continue;
		}
		if (c == NULL || !c->used)
			continue;
		if (c->connecting && (e->events & WL_SOCKET_WRITEABLE))
			conn_connected(c);
		if (!c->connecting && (e->events & WL_SOCKET_READABLE))
			conn_read(w, c);
		if (!c->connecting && (e->events & WL_SOCKET_WRITEABLE))
			conn_flush(c);
	}
	reap(w);
	CHECK_FOR_INTERRUPTS();
}

/* See rpc_net.h: keep a connection to the new leader open (failover detection). */
void
mc_rpc_leader_changed(McRaftWorker *w, uint32 old, uint32 now)
{
	if (now != 0 && now != w->id)
		(void) ensure_out(w, now);
}
