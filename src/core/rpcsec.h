/*
 * rpcsec.h — the secure channel for Raft RPC over TCP, as a pure state
 * machine: bytes from the socket go in, bytes to write and decrypted frames
 * come out.  No sockets, no clocks, no PostgreSQL.  See doc/security.md.
 *
 * Owns: the mutual handshake (both sides prove they hold a key of the
 * cluster keyring, mc_crypto.h; ephemeral X25519 gives forward secrecy),
 * the per-direction session keys, and the framing:
 *
 *   record  = u32 length (big-endian, of body) | body
 *   HELLO   (client→server, clear)  magic "MCRS" | ver 1 | type 1 | client id u16 |
 *           server id u16 (0 = any) | nonce_c[32] | eph_c[32] | n u8 (1..8) |
 *           n × { hint u8 | mac[32] }
 *   WELCOME (server→client, clear)  magic | ver | type 2 | server id u16 |
 *           nonce_s[32] | eph_s[32] | chosen u8 | mac_s[32]
 *   FINISH  (client→server, clear)  magic | ver | type 3 | mac_c[32]
 *   frame   (both ways, after the handshake)
 *           body = XChaCha20-Poly1305-IETF(key = direction key,
 *                  nonce = 16 zero bytes | u64 counter, AAD = the length prefix)
 *
 * The counter is implicit (0, 1, 2, ... per direction), so a replayed,
 * dropped, reordered or modified frame fails authentication: the channel is
 * then broken for good and the caller must close the connection.
 *
 * Usage (Raft worker, one mc_rpcsec per TCP connection):
 *
 *     mc_rpcsec ch;
 *     // outgoing connection to node 3; incoming: mc_rpcsec_init_server(&ch, &kr, my_id, max)
 *     mc_rpcsec_init_client(&ch, &kr, my_id, 3, raft_batch_max + 65536);
 *
 *     // whenever the socket is writable (and right after init, for the HELLO):
 *     const uint8_t *p; size_t n;
 *     if ((p = mc_rpcsec_pending(&ch, &n)) != NULL) {
 *         ssize_t w = send(fd, p, n, 0);
 *         if (w > 0) mc_rpcsec_written(&ch, w);
 *     }
 *     // whenever it is readable:
 *     ssize_t r = recv(fd, buf, sizeof(buf), 0);
 *     st = (r == 0) ? mc_rpcsec_eof(&ch) : mc_rpcsec_feed(&ch, buf, r);
 *     while (st == MC_RPCSEC_OK &&
 *            (st = mc_rpcsec_next_frame(&ch, &frame, &flen)) == MC_RPCSEC_OK && frame)
 *         handle_raft_message(mc_rpcsec_peer_id(&ch), frame, flen);
 *     if (st != MC_RPCSEC_OK) { count(mc_rpcsec_status_name(st)); close(fd); }
 *     // to send once mc_rpcsec_established(&ch):
 *     mc_rpcsec_send(&ch, msg, len);      // then flush pending as above
 *
 *     mc_rpcsec_free(&ch);                // always, also after errors
 *
 * A handshake timeout (e.g. one election timeout) is the caller's job.
 */
#ifndef MC_RPCSEC_H
#define MC_RPCSEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mc_crypto.h"

#define MC_RPCSEC_VERSION			1
#define MC_RPCSEC_MAX_HANDSHAKE		512 /* max body of a handshake record */
#define MC_RPCSEC_FRAME_OVERHEAD	(4 + 16)	/* length prefix + tag */
#define MC_RPCSEC_DEFAULT_MAX_FRAME (10 * 1024 * 1024 + 65536)	/* plaintext */

typedef enum mc_rpcsec_status
{
	MC_RPCSEC_OK = 0,
	MC_RPCSEC_ERR_TRUNCATED,	/* connection ended inside a record */
	MC_RPCSEC_ERR_OVERSIZED,	/* record (or frame to send) over the limit */
	MC_RPCSEC_ERR_BAD_VERSION,	/* handshake magic/version not ours */
	MC_RPCSEC_ERR_MALFORMED,	/* ill-formed or unexpected handshake record */
	MC_RPCSEC_ERR_AUTH,			/* no common key, bad MAC, or a frame failed
								 * authentication (tampered/replayed/reordered) */
	MC_RPCSEC_ERR_PEER,			/* peer is not the node we expected / we are
								 * not the node it asked for */
	MC_RPCSEC_ERR_STATE,		/* misuse: send before the handshake, ... */
	MC_RPCSEC_ERR_NOMEM,
	MC_RPCSEC__COUNT
} mc_rpcsec_status;

typedef enum mc_rpcsec_phase
{
	MC_RPCSEC_CLIENT_WAIT_WELCOME,
	MC_RPCSEC_SERVER_WAIT_HELLO,
	MC_RPCSEC_SERVER_WAIT_FINISH,
	MC_RPCSEC_ESTABLISHED,
	MC_RPCSEC_FAILED
} mc_rpcsec_phase;

/* A growable byte buffer holding bytes [rd, wr) of data[0..cap). */
typedef struct mc_rpcsec_buf
{
	uint8_t    *data;
	size_t		cap;
	size_t		rd;
	size_t		wr;
} mc_rpcsec_buf;

/* One channel.  Treat the fields as private; the struct is public only so
 * the caller can allocate it (heap buffers inside: call mc_rpcsec_free). */
typedef struct mc_rpcsec
{
	bool		is_client;
	mc_rpcsec_phase phase;
	mc_rpcsec_status error;		/* sticky once phase == FAILED */
	uint16_t	self_id;
	uint16_t	peer_id;		/* expected (client) / learnt (after handshake) */
	size_t		max_frame;		/* plaintext bytes */
	int			nkeys;			/* copy of the ring's RPC keys */
	uint8_t		psk[MC_CRYPTO_MAX_KEYS][32];
	uint8_t		hint[MC_CRYPTO_MAX_KEYS];
	int			chosen;			/* index into psk of the agreed key */
	uint8_t		eph_pk[32];
	uint8_t		eph_sk[32];
	uint8_t		hello[MC_RPCSEC_MAX_HANDSHAKE];	/* transcript so far */
	size_t		hello_len;
	uint8_t		th[32];			/* transcript hash (hello | welcome) */
	uint8_t		tx_key[32];
	uint8_t		rx_key[32];
	uint64_t	tx_ctr;
	uint64_t	rx_ctr;
	mc_rpcsec_buf in;
	mc_rpcsec_buf out;
	uint64_t	frames_in;		/* counters for metrics */
	uint64_t	frames_out;
} mc_rpcsec;

/*
 * Start the client side of a connection to node `expected_peer` (0 = any)
 * as node `self_id` (>0), offering every key of `kr` (the first preferred).
 * Queues the HELLO: flush mc_rpcsec_pending() once connected.  max_frame is
 * the largest plaintext frame accepted or sent (0 = the default).  Returns
 * OK, or STATE (empty ring, self_id 0) / NOMEM; the channel must be freed
 * with mc_rpcsec_free() in every case.
 */
extern mc_rpcsec_status mc_rpcsec_init_client(mc_rpcsec *s, const mc_keyring *kr,
											  uint16_t self_id, uint16_t expected_peer,
											  size_t max_frame);

/*
 * Start the server side of an accepted connection, as node `self_id`.
 * Accepts a client holding any key of `kr`.  Same results as init_client.
 * The ring is copied: a later reload does not affect this connection.
 */
extern mc_rpcsec_status mc_rpcsec_init_server(mc_rpcsec *s, const mc_keyring *kr,
											  uint16_t self_id, size_t max_frame);

/*
 * Hand over bytes read from the socket (any chunking, down to one byte).
 * Handshake records are processed at once (they may queue output: flush
 * pending); frames wait for mc_rpcsec_next_frame().  Returns OK or the
 * (sticky) error that broke the channel.  Call next_frame until it yields
 * no frame before feeding more, or the input buffer keeps growing.
 */
extern mc_rpcsec_status mc_rpcsec_feed(mc_rpcsec *s, const uint8_t *data, size_t len);

/*
 * Take the next whole frame.  OK with *frame != NULL: the decrypted frame,
 * valid until the next call on `s`; OK with *frame == NULL: none complete
 * yet (or the handshake is not finished); an error: the channel is broken
 * (a frame failed authentication, was oversized or malformed).
 */
extern mc_rpcsec_status mc_rpcsec_next_frame(mc_rpcsec *s, const uint8_t **frame,
											 size_t *len);

/*
 * Encrypt one frame (len <= max_frame) and queue it for writing.  STATE
 * before the handshake has completed on this side, OVERSIZED if too big
 * (the channel stays usable), NOMEM, or the sticky error.
 */
extern mc_rpcsec_status mc_rpcsec_send(mc_rpcsec *s, const uint8_t *msg, size_t len);

/* Bytes waiting to be written (NULL and *len = 0 when none). */
extern const uint8_t *mc_rpcsec_pending(const mc_rpcsec *s, size_t *len);

/* Mark the first n pending bytes written (n <= pending length). */
extern void mc_rpcsec_written(mc_rpcsec *s, size_t n);

/*
 * The peer closed the connection.  TRUNCATED if it stopped inside a record
 * or before the handshake completed, otherwise OK (frames already
 * buffered can still be taken).
 */
extern mc_rpcsec_status mc_rpcsec_eof(mc_rpcsec *s);

/* True once this side may send and receive frames. */
extern bool mc_rpcsec_established(const mc_rpcsec *s);

/* The peer's node id once established (as it claimed in the handshake,
 * proven only to be a holder of the cluster key); 0 before. */
extern uint16_t mc_rpcsec_peer_id(const mc_rpcsec *s);

/* Index in the keyring of the key agreed on (0 = primary); -1 before. */
extern int	mc_rpcsec_key_index(const mc_rpcsec *s);

/* Name for logs and metrics: "ok", "truncated", "oversized",
 * "bad_version", "malformed", "auth_failed", "wrong_peer", "state",
 * "out_of_memory"; "unknown" outside the enum. */
extern const char *mc_rpcsec_status_name(mc_rpcsec_status st);

/* Wipe every key and free the buffers.  The struct may then be re-inited. */
extern void mc_rpcsec_free(mc_rpcsec *s);

#endif							/* MC_RPCSEC_H */
