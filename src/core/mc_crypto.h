/*
 * mc_crypto.h — the cluster keyring and the sealing of gossip (UDP) packets.
 *
 * Owns: parsing/validating `mailcluster.key` and key-file text into a
 * keyring, deriving the per-purpose keys (gossip, RPC) from each secret,
 * sealing and opening gossip datagrams with XChaCha20-Poly1305, and the
 * per-(sender, source address) replay window.  Pure C: no PostgreSQL, no
 * sockets, no clocks (time comes in as `now_ms`, wall-clock milliseconds
 * since the epoch), no threads.  All cryptography is libsodium's.  See doc/security.md.
 *
 * Packet layout (all integers big-endian; the whole header is AEAD
 * associated data, so any change to it fails authentication):
 *
 *   off  size  field
 *     0     1  version            MC_CRYPTO_PACKET_VERSION (0xC1)
 *     1     1  key hint           which secret sealed it (see keyring)
 *     2     2  sender node id     1..65535
 *     4     8  timestamp ms       sender's wall clock
 *    12     8  sequence           per-sender, strictly increasing
 *    20    24  nonce              random (randombytes_buf)
 *    44     n  ciphertext         XChaCha20-Poly1305-IETF of the payload
 *  44+n    16  tag
 *
 * Usage (gossip worker):
 *
 *     mc_keyring kr;  mc_crypto_replay *rp = palloc0(sizeof(mc_crypto_replay));
 *     const char *err;
 *     if (mc_crypto_init() != 0) elog(FATAL, "libsodium init failed");
 *     if ((err = mc_crypto_keyring_parse(&kr, mailcluster_key)) != NULL) ...;
 *     uint64_t seq = mc_crypto_seq_init(now_ms);
 *
 *     uint8_t pkt[MC_CRYPTO_MAX_PACKET];
 *     int n = mc_crypto_seal(&kr, my_id, now_ms, seq++, payload, plen,
 *                            pkt, sizeof(pkt));          // -1: payload too big
 *     sendto(..., pkt, n, ...);
 *
 *     uint8_t plain[MC_CRYPTO_MAX_PAYLOAD]; size_t plen; mc_packet_info info;
 *     uint64_t src = mc_crypto_source_tag(ip_bytes, ip_len, port); // from recvfrom()
 *     mc_drop_reason why = mc_crypto_open_from(&kr, rp, src, now_ms, buf, nread,
 *                                              plain, sizeof(plain), &plen, &info);
 *     if (why != MC_DROP_NONE)
 *         counter[why]++;   // metric "gossip_packets_dropped_" + mc_crypto_drop_reason_name(why)
 *     else
 *         handle(info.sender, plain, plen);
 *
 *     mc_crypto_keyring_clear(&kr);      // on exit / reload: wipes keys
 */
#ifndef MC_CRYPTO_H
#define MC_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- keyring --------------------------------------------------------- */

#define MC_CRYPTO_KEY_BYTES		32	/* every derived key */
#define MC_CRYPTO_MAX_KEYS		8	/* secrets in one ring */
#define MC_CRYPTO_WEAK_SECRET	16	/* bytes, after trimming: shorter is weak */
#define MC_CRYPTO_MAX_SECRET	1024	/* bytes, after trimming */

/* Keys derived from one secret.  Never log or copy these around. */
typedef struct mc_crypto_key
{
	uint8_t		gossip[MC_CRYPTO_KEY_BYTES];	/* seals UDP packets */
	uint8_t		rpc[MC_CRYPTO_KEY_BYTES];	/* RPC handshake PSK */
	uint8_t		hint;			/* public 1-byte id of the secret */
} mc_crypto_key;

/*
 * The ring: keys[0] (the first secret) encrypts, all of them decrypt.
 * Fixed size, no heap: may live on the stack, in palloc'd or shared memory.
 */
typedef struct mc_keyring
{
	int			nkeys;			/* 0 = empty ring, nothing authenticates */
	int			nweak;			/* secrets shorter than MC_CRYPTO_WEAK_SECRET */
	mc_crypto_key keys[MC_CRYPTO_MAX_KEYS];
} mc_keyring;

/*
 * Initialise libsodium.  Call once per process before anything else here;
 * safe to call again.  Returns 0 on success, -1 if libsodium cannot start.
 */
extern int	mc_crypto_init(void);

/*
 * Parse a `mailcluster.key` value: secrets separated by commas, each
 * trimmed of surrounding whitespace.  Refused: an empty value, an empty
 * entry ("a,,b", trailing comma), a secret longer than MC_CRYPTO_MAX_SECRET
 * bytes, more than MC_CRYPTO_MAX_KEYS
 * secrets, the same secret twice.  On success fills *kr and returns NULL;
 * on failure leaves *kr empty (wiped) and returns a static, human-readable
 * message (no secret material in it) suitable for GUC_check_errdetail().
 * A secret shorter than MC_CRYPTO_WEAK_SECRET bytes is accepted (the SPEC
 * puts no bound on it) and counted in kr->nweak, for the caller to warn.
 */
extern const char *mc_crypto_keyring_parse(mc_keyring *kr, const char *value);

/*
 * Same for the contents of a key file (text of `len` bytes): one secret per
 * line, lines trimmed, blank lines and lines starting with '#' ignored;
 * commas are ordinary characters here.  Same refusals and result.
 */
extern const char *mc_crypto_keyring_parse_lines(mc_keyring *kr,
												 const char *text, size_t len);

/*
 * Validation only, for a GUC check hook: NULL if `value` would parse, else
 * the message.  The empty string is accepted here (it means "no key:
 * standalone", SPEC §1); keyring_parse itself refuses it.
 */
extern const char *mc_crypto_check_key_setting(const char *value);

/* Wipe every key (sodium_memzero) and leave the ring empty. */
extern void mc_crypto_keyring_clear(mc_keyring *kr);

/* ---- gossip packets -------------------------------------------------- */

#define MC_CRYPTO_PACKET_VERSION	0xC1
#define MC_CRYPTO_NONCE_BYTES		24
#define MC_CRYPTO_TAG_BYTES			16
#define MC_CRYPTO_HEADER_BYTES		(1 + 1 + 2 + 8 + 8 + MC_CRYPTO_NONCE_BYTES)	/* 44 */
#define MC_CRYPTO_OVERHEAD			(MC_CRYPTO_HEADER_BYTES + MC_CRYPTO_TAG_BYTES)	/* 60 */
#define MC_CRYPTO_MAX_PAYLOAD		1400	/* plaintext bytes per datagram */
#define MC_CRYPTO_MAX_PACKET		(MC_CRYPTO_MAX_PAYLOAD + MC_CRYPTO_OVERHEAD)	/* 1460 */
#define MC_CRYPTO_REPLAY_WINDOW_MS	30000	/* accepted |now - timestamp| */
#define MC_CRYPTO_REPLAY_SENDERS	1024	/* (sender, source) pairs tracked at once */
#define MC_CRYPTO_REPLAY_ADDRS_PER_SENDER	4	/* live source addresses per sender id */
#define MC_CRYPTO_REPLAY_BITS		256 /* sequence window per (sender, source) */

/* Why a packet was dropped.  MC_DROP_NONE means it was accepted. */
typedef enum mc_drop_reason
{
	MC_DROP_NONE = 0,
	MC_DROP_TRUNCATED,			/* shorter than header + tag */
	MC_DROP_OVERSIZED,			/* longer than MC_CRYPTO_MAX_PACKET */
	MC_DROP_BAD_VERSION,		/* first byte is not our version */
	MC_DROP_AUTH_FAILED,		/* no key in the ring opens it: wrong key or tampered */
	MC_DROP_STALE,				/* timestamp outside +-MC_CRYPTO_REPLAY_WINDOW_MS */
	MC_DROP_REPLAYED,			/* sequence already seen, or older than the window */
	MC_DROP_MALFORMED,			/* sender id 0, or output buffer too small */
	MC_DROP__COUNT
} mc_drop_reason;

/*
 * Name of a drop reason for metrics: "truncated", "oversized",
 * "bad_version", "auth_failed", "stale", "replayed", "malformed" ("none" for
 * MC_DROP_NONE, "unknown" outside the enum).  Static strings.
 */
extern const char *mc_crypto_drop_reason_name(mc_drop_reason r);

/* What an accepted packet said about itself (authenticated). */
typedef struct mc_packet_info
{
	uint16_t	sender;
	uint64_t	timestamp_ms;
	uint64_t	seq;
	int			key_index;		/* which ring entry opened it (0 = primary) */
} mc_packet_info;

/*
 * Replay state, one slot per (sender id, source address tag): a second
 * server claiming a live node's id (G7) gets its own window and cannot push
 * the real node's window ahead.  ~64 KB; zero-initialise it (or call _reset).
 */
typedef struct mc_replay_slot
{
	uint16_t	sender;			/* 0 = free slot */
	uint64_t	src;			/* source address tag (mc_crypto_source_tag) */
	uint64_t	max_seq;		/* highest sequence accepted */
	uint64_t	max_ts;			/* highest timestamp accepted */
	uint64_t	bits[MC_CRYPTO_REPLAY_BITS / 64];	/* bit i: max_seq - i seen */
} mc_replay_slot;

typedef struct mc_crypto_replay
{
	mc_replay_slot slots[MC_CRYPTO_REPLAY_SENDERS];
} mc_crypto_replay;

/*
 * A 64-bit tag for a datagram's source address: BLAKE2b-64 of the address
 * bytes (4 for IPv4, 16 for IPv6, as in the sockaddr) and the port.  Only
 * ever compared for equality; pass the same representation for the same
 * peer every time.
 */
extern uint64_t mc_crypto_source_tag(const uint8_t *addr, size_t addr_len, uint16_t port);

/* Forget every sender. */
extern void mc_crypto_replay_reset(mc_crypto_replay *rp);

/*
 * A starting sequence number for a sender that just started: now_ms << 20.
 * Sequences only need to grow across restarts of the sender, and this does
 * as long as its clock does not go back and it sends fewer than 2^20
 * packets per millisecond on average.
 */
extern uint64_t mc_crypto_seq_init(uint64_t now_ms);

/*
 * Seal `payload` (plen <= MC_CRYPTO_MAX_PAYLOAD) from node `sender` (>0),
 * stamped `now_ms` and `seq`, with the ring's primary key, into `out`
 * (capacity out_cap >= plen + MC_CRYPTO_OVERHEAD).  Returns the packet
 * length, or -1 (empty ring, sender 0, payload too big, out too small).
 */
extern int	mc_crypto_seal(const mc_keyring *kr, uint16_t sender, uint64_t now_ms,
						   uint64_t seq, const uint8_t *payload, size_t plen,
						   uint8_t *out, size_t out_cap);

/*
 * As mc_crypto_seal but with ring entry `key_index` (e.g. the one a peer's
 * last packet came with, info.key_index).  -1 also if key_index is out of
 * range.
 */
extern int	mc_crypto_seal_with(const mc_keyring *kr, int key_index, uint16_t sender,
								uint64_t now_ms, uint64_t seq,
								const uint8_t *payload, size_t plen,
								uint8_t *out, size_t out_cap);

/*
 * Authenticate and decrypt one datagram.  Checks, in order: size
 * (OVERSIZED/TRUNCATED), version, sender != 0, the AEAD under every ring key
 * whose hint matches (AUTH_FAILED), timestamp within the window of now_ms
 * (STALE), sequence not yet seen from that sender (REPLAYED).  Only a packet
 * that passes all of them updates `rp` (an attacker without the key cannot
 * touch the replay state).  On MC_DROP_NONE the payload is in
 * out[0..*out_len) (out_cap >= MC_CRYPTO_MAX_PAYLOAD always suffices) and
 * *info (may be NULL) describes it; on a drop *out_len is 0.  Never reads
 * outside pkt[0..len).  rp == NULL skips the sequence check (tests only).
 * The caller decides what to do with packets whose sender is itself.
 */
extern mc_drop_reason mc_crypto_open(const mc_keyring *kr, mc_crypto_replay *rp,
									 uint64_t now_ms, const uint8_t *pkt, size_t len,
									 uint8_t *out, size_t out_cap, size_t *out_len,
									 mc_packet_info *info);

/*
 * mc_crypto_open with the source address of the datagram: the sequence
 * window is kept per (sender id, src_tag), so packets of the same id from
 * two addresses (a real node and an impostor with its id, G7) are checked
 * in separate windows and neither can make the other's packets look
 * replayed.  At most MC_CRYPTO_REPLAY_ADDRS_PER_SENDER addresses per id are
 * tracked at once (slots heard from within the 30 s window); a packet from
 * one more address of that id is refused as REPLAYED, as is any new pair
 * when the table is full.  mc_crypto_open() is this with src_tag 0.
 * doc/security.md §3 explains why this is still replay-safe.
 */
extern mc_drop_reason mc_crypto_open_from(const mc_keyring *kr, mc_crypto_replay *rp,
										  uint64_t src_tag, uint64_t now_ms,
										  const uint8_t *pkt, size_t len,
										  uint8_t *out, size_t out_cap, size_t *out_len,
										  mc_packet_info *info);

#endif							/* MC_CRYPTO_H */
