/*
 * mc_gossip_net.h — the gossip worker's UDP socket: opening it on
 * bind_addr:bind_port, turning socket addresses into the SWIM core's
 * string addresses and back, and resolving seed host names.
 */
#ifndef MC_GOSSIP_NET_H
#define MC_GOSSIP_NET_H

#include <sys/socket.h>

#include "swim.h"

typedef struct McGossipSocket
{
	pgsocket	fd;
	int			family;			/* AF_INET or AF_INET6 */
} McGossipSocket;

/* Open a non-blocking UDP socket bound to addr:port; FATAL on failure. */
extern void mc_gossip_socket_open(McGossipSocket *gs, const char *addr, int port);

/*
 * Can a UDP socket be bound to addr:port right now?  Used at server start
 * so a taken port stops the server instead of the worker failing later.
 */
extern bool mc_gossip_port_available(const char *addr, int port);

/* Close it (idempotent). */
extern void mc_gossip_socket_close(McGossipSocket *gs);

/*
 * Convert a received source address into the core's form (IPv4-mapped IPv6
 * addresses become plain IPv4).  False if the family is unknown.
 */
extern bool mc_gossip_addr_from_sockaddr(const struct sockaddr_storage *ss,
										 mc_swim_addr *out);

/*
 * Convert a core address (literal IP + port) into a sockaddr for this
 * socket's family (IPv4 becomes IPv4-mapped on an IPv6 socket).  False if
 * the host is not a literal of a usable family.
 */
extern bool mc_gossip_addr_to_sockaddr(const McGossipSocket *gs, const mc_swim_addr *a,
									   struct sockaddr_storage *ss, socklen_t *len);

/*
 * Resolve the seed list (mailcluster.seed_nodes) into literal addresses for
 * this socket's family; seeds without a port get default_port.  Seeds that
 * do not resolve are logged and skipped.  Returns the number stored.
 */
extern int	mc_gossip_resolve_seeds(const McGossipSocket *gs, const char *list,
									int default_port, mc_swim_addr *out, int max);

#endif
