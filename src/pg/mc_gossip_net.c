/*
 * mc_gossip_net.c — UDP socket and address handling for the gossip worker
 * (see mc_gossip_net.h).  Addresses are kept as literal IP strings because
 * the SWIM core compares addresses as strings.
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <unistd.h>

#include "mc_gossip_net.h"
#include "mc_parse.h"

/* mc_gossip_socket_open — see mc_gossip_net.h. */
void
mc_gossip_socket_open(McGossipSocket *gs, const char *addr, int port)
{
	struct sockaddr_storage ss;
	socklen_t	len;
	mc_swim_addr a;

	memset(&ss, 0, sizeof(ss));
	if (strchr(addr, ':') != NULL)
		gs->family = AF_INET6;
	else
		gs->family = AF_INET;
	strlcpy(a.host, addr, sizeof(a.host));
	a.port = (uint16_t) port;
	gs->fd = PGINVALID_SOCKET;
	if (!mc_gossip_addr_to_sockaddr(gs, &a, &ss, &len))
		ereport(FATAL,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("mailcluster: invalid value for parameter \"mailcluster.bind_addr\": \"%s\"", addr)));

	gs->fd = socket(gs->family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (gs->fd == PGINVALID_SOCKET)
		ereport(FATAL,
				(errcode_for_socket_access(),
				 errmsg("mailcluster: could not create gossip UDP socket: %m")));
	if (gs->family == AF_INET6)
		(void) setsockopt(gs->fd, IPPROTO_IPV6, IPV6_V6ONLY, &(int) {0}, sizeof(int));
	/* no SO_REUSEADDR: a second server on the same port must fail here */
	if (bind(gs->fd, (struct sockaddr *) &ss, len) != 0)
		ereport(FATAL,
				(errcode_for_socket_access(),
				 errmsg("mailcluster: could not bind gossip UDP socket to %s port %d: %m", addr, port),
				 errhint("Is another server using mailcluster.bind_port %d on this address?", port)));
}

/*
 * mc_gossip_port_available — bind a UDP socket to addr:port and close it
 * again; false (errno set) if that fails, e.g. the port is taken.
 */
bool
mc_gossip_port_available(const char *addr, int port)
{
	McGossipSocket gs;
	struct sockaddr_storage ss;
	socklen_t	len;
	mc_swim_addr a;
	int			rc;
	int			save_errno;

	gs.family = strchr(addr, ':') != NULL ? AF_INET6 : AF_INET;
	strlcpy(a.host, addr, sizeof(a.host));
	a.port = (uint16_t) port;
	if (!mc_gossip_addr_to_sockaddr(&gs, &a, &ss, &len))
	{
		errno = EINVAL;
		return false;
	}
	gs.fd = socket(gs.family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (gs.fd == PGINVALID_SOCKET)
		return false;
	rc = bind(gs.fd, (struct sockaddr *) &ss, len);
	save_errno = errno;
	close(gs.fd);
	errno = save_errno;
	return rc == 0;
}

/* mc_gossip_socket_close — see mc_gossip_net.h. */
void
mc_gossip_socket_close(McGossipSocket *gs)
{
	if (gs->fd != PGINVALID_SOCKET)
		close(gs->fd);
	gs->fd = PGINVALID_SOCKET;
}

/* mc_gossip_addr_from_sockaddr — see mc_gossip_net.h. */
bool
mc_gossip_addr_from_sockaddr(const struct sockaddr_storage *ss, mc_swim_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (ss->ss_family == AF_INET)
	{
		const struct sockaddr_in *in = (const struct sockaddr_in *) ss;

		if (inet_ntop(AF_INET, &in->sin_addr, out->host, sizeof(out->host)) == NULL)
			return false;
		out->port = ntohs(in->sin_port);
		return true;
	}
	if (ss->ss_family == AF_INET6)
	{
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) ss;

		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
		{
			if (inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], out->host, sizeof(out->host)) == NULL)
				return false;
		}
		else if (inet_ntop(AF_INET6, &in6->sin6_addr, out->host, sizeof(out->host)) == NULL)
			return false;
		out->port = ntohs(in6->sin6_port);
		return true;
	}
	return false;
}

/* mc_gossip_addr_to_sockaddr — see mc_gossip_net.h. */
bool
mc_gossip_addr_to_sockaddr(const McGossipSocket *gs, const mc_swim_addr *a,
						   struct sockaddr_storage *ss, socklen_t *len)
{
	struct in_addr v4;
	struct in6_addr v6;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, a->host, &v4) == 1)
	{
		if (gs->family == AF_INET)
		{
			struct sockaddr_in *in = (struct sockaddr_in *) ss;

			in->sin_family = AF_INET;
			in->sin_addr = v4;
			in->sin_port = htons(a->port);
			*len = sizeof(*in);
		}
		else
		{
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) ss;

			in6->sin6_family = AF_INET6;
			in6->sin6_addr.s6_addr[10] = 0xff;
			in6->sin6_addr.s6_addr[11] = 0xff;
			memcpy(&in6->sin6_addr.s6_addr[12], &v4, 4);
			in6->sin6_port = htons(a->port);
			*len = sizeof(*in6);
		}
		return true;
	}
	if (inet_pton(AF_INET6, a->host, &v6) == 1 && gs->family == AF_INET6)
	{
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_addr = v6;
		in6->sin6_port = htons(a->port);
		*len = sizeof(*in6);
		return true;
	}
	return false;
}

/* mc_gossip_resolve_seeds — see mc_gossip_net.h. */
int
mc_gossip_resolve_seeds(const McGossipSocket *gs, const char *list, int default_port,
						mc_swim_addr *out, int max)
{
	McSeed		seeds[MC_MAX_SEEDS];
	char		err[300];
	int			n = mc_parse_seeds(list, seeds, MC_MAX_SEEDS, err, sizeof(err));
	int			stored = 0;

	if (n < 0)
	{
		ereport(WARNING,
				(errmsg("mailcluster: ignoring invalid mailcluster.seed_nodes: %s", err)));
		return 0;
	}
	for (int i = 0; i < n && stored < max; i++)
	{
		mc_swim_addr *a = &out[stored];
		int			port = seeds[i].port ? seeds[i].port : default_port;

		if (mc_is_ip_literal(seeds[i].host))
			strlcpy(a->host, seeds[i].host, sizeof(a->host));
		else
		{
			struct addrinfo hints;
			struct addrinfo *res = NULL;
			int			rc;

			memset(&hints, 0, sizeof(hints));
			hints.ai_family = gs->family == AF_INET ? AF_INET : AF_UNSPEC;
			hints.ai_socktype = SOCK_DGRAM;
			rc = getaddrinfo(seeds[i].host, NULL, &hints, &res);
			if (rc != 0 || res == NULL)
			{
				ereport(LOG,
						(errmsg("mailcluster: could not resolve seed \"%s\": %s",
								seeds[i].host, gai_strerror(rc))));
				continue;
			}
			if (!mc_gossip_addr_from_sockaddr((struct sockaddr_storage *) res->ai_addr, a))
			{
				freeaddrinfo(res);
				continue;
			}
			freeaddrinfo(res);
		}
		a->port = (uint16_t) port;
		stored++;
	}
	return stored;
}
