/*
 * rpcsec.c — the Raft RPC secure channel state machine (see rpcsec.h for
 * the wire format and the contract, doc/security.md for the reasoning).
 *
 * Handshake cryptography (K = the agreed RPC pre-shared key of the ring,
 * H = BLAKE2b-256, H_K = BLAKE2b-256 keyed with K):
 *   HELLO.mac_i = H_{K_i}("mailcluster rpc hello"  | HELLO up to n)
 *   WELCOME.mac = H_K    ("mailcluster rpc server" | HELLO | WELCOME up to mac)
 *   th          = H(HELLO | WELCOME)
 *   FINISH.mac  = H_K    ("mailcluster rpc client" | th)
 *   (kx_c2s, kx_s2c) = crypto_kx session keys of the ephemeral X25519 pairs
 *   key_c2s = H_K("mailcluster rpc c2s" | th | kx_c2s), key_s2c likewise.
 * So a session key needs both K (authentication) and the ephemeral secrets
 * (forward secrecy), and is unique per connection (fresh nonces and pairs).
 */
#include "rpcsec.h"
#include "wire.h"

#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#define MAGIC		"MCRS"
#define T_HELLO		1
#define T_WELCOME	2
#define T_FINISH	3
#define HELLO_FIXED (4 + 1 + 1 + 2 + 2 + 32 + 32)	/* up to the key count */
#define WELCOME_LEN (4 + 1 + 1 + 2 + 32 + 32 + 1 + 32)
#define FINISH_LEN	(4 + 1 + 1 + 32)

_Static_assert(crypto_kx_PUBLICKEYBYTES == 32 && crypto_kx_SECRETKEYBYTES == 32, "kx sizes");
_Static_assert(crypto_kx_SESSIONKEYBYTES == 32, "kx session key size");
_Static_assert(HELLO_FIXED + 1 + MC_CRYPTO_MAX_KEYS * 33 <= MC_RPCSEC_MAX_HANDSHAKE, "hello fits");

static const char *const status_names[MC_RPCSEC__COUNT] = {
	[MC_RPCSEC_OK] = "ok",
	[MC_RPCSEC_ERR_TRUNCATED] = "truncated",
	[MC_RPCSEC_ERR_OVERSIZED] = "oversized",
	[MC_RPCSEC_ERR_BAD_VERSION] = "bad_version",
	[MC_RPCSEC_ERR_MALFORMED] = "malformed",
	[MC_RPCSEC_ERR_AUTH] = "auth_failed",
	[MC_RPCSEC_ERR_PEER] = "wrong_peer",
	[MC_RPCSEC_ERR_STATE] = "state",
	[MC_RPCSEC_ERR_NOMEM] = "out_of_memory",
};

const char *
mc_rpcsec_status_name(mc_rpcsec_status st)
{
	if ((int) st < 0 || st >= MC_RPCSEC__COUNT)
		return "unknown";
	return status_names[st];
}

/* ---- helpers -------------------------------------------------------- */

/* Break the channel for good: wipe secrets, remember why. */
static mc_rpcsec_status
fail(mc_rpcsec *s, mc_rpcsec_status st)
{
	if (s->phase != MC_RPCSEC_FAILED)
	{
		s->phase = MC_RPCSEC_FAILED;
		s->error = st;
		sodium_memzero(s->psk, sizeof(s->psk));
		sodium_memzero(s->eph_sk, sizeof(s->eph_sk));
		sodium_memzero(s->tx_key, sizeof(s->tx_key));
		sodium_memzero(s->rx_key, sizeof(s->rx_key));
	}
	return s->error;
}

/* keyed BLAKE2b-256 over label | a | b (b may be NULL) */
static void
mac3(uint8_t out[32], const uint8_t key[32], const char *label,
	 const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, key, 32, 32);
	crypto_generichash_update(&st, (const uint8_t *) label, strlen(label));
	crypto_generichash_update(&st, a, alen);
	if (b)
		crypto_generichash_update(&st, b, blen);
	crypto_generichash_final(&st, out, 32);
	sodium_memzero(&st, sizeof(st));
}

/* Make room for n more bytes at the end of b. */
static bool
buf_reserve(mc_rpcsec_buf *b, size_t n)
{
	size_t		used = b->wr - b->rd;
	size_t		need;

	if (used == 0)
		b->rd = b->wr = 0;
	/* room at the end already: append without moving anything */
	if (n <= b->cap - b->wr)
		return true;
	/* otherwise slide the unread bytes to the front (amortised O(1)) */
	if (b->rd > 0)
	{
		if (used)
			memmove(b->data, b->data + b->rd, used);
		b->rd = 0;
		b->wr = used;
	}
	if (n > SIZE_MAX - used)
		return false;
	need = used + n;
	if (need > b->cap)
	{
		size_t		ncap = b->cap ? b->cap : 4096;
		uint8_t    *nd;

		while (ncap < need)
			ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
		nd = realloc(b->data, ncap);
		if (nd == NULL)
			return false;
		b->data = nd;
		b->cap = ncap;
	}
	return true;
}

static void
buf_free(mc_rpcsec_buf *b)
{
	if (b->data)
	{
		sodium_memzero(b->data, b->cap);
		free(b->data);
	}
	memset(b, 0, sizeof(*b));
}

/* Queue one record (length prefix + body) for output. */
static bool
queue_record(mc_rpcsec *s, const uint8_t *body, size_t len)
{
	mc_writer	w;

	if (len > UINT32_MAX || !buf_reserve(&s->out, 4 + len))
		return false;
	mc_writer_init(&w, s->out.data + s->out.wr, 4 + len);
	mc_put_u32(&w, (uint32_t) len);
	mc_put_bytes(&w, body, len);
	if (w.err)
		return false;
	s->out.wr += w.len;
	return true;
}

/* Largest body accepted in the current phase. */
static size_t
max_body(const mc_rpcsec *s)
{
	if (s->phase == MC_RPCSEC_ESTABLISHED)
		return s->max_frame + crypto_aead_xchacha20poly1305_ietf_ABYTES;
	return MC_RPCSEC_MAX_HANDSHAKE;
}

/*
 * Is a whole record buffered?  1 and its body (in place) if so, 0 if not
 * yet, -1 after failing the channel for an oversized length.
 */
static int
peek_record(mc_rpcsec *s, uint8_t **body, size_t *len)
{
	mc_reader	r;
	uint32_t	n;
	size_t		avail = s->in.wr - s->in.rd;

	if (avail < 4)
		return 0;
	mc_reader_init(&r, s->in.data + s->in.rd, avail);
	n = mc_get_u32(&r);
	if (n > max_body(s))
	{
		fail(s, MC_RPCSEC_ERR_OVERSIZED);
		return -1;
	}
	if (avail - 4 < n)
		return 0;
	*body = s->in.data + s->in.rd + 4;
	*len = n;
	return 1;
}

/* Check magic, version and type of a handshake body. */
static mc_rpcsec_status
check_header(mc_reader *r, uint8_t want_type)
{
	uint8_t		magic[4];

	mc_get_bytes(r, magic, 4);
	if (r->err || memcmp(magic, MAGIC, 4) != 0 || mc_get_u8(r) != MC_RPCSEC_VERSION || r->err)
		return MC_RPCSEC_ERR_BAD_VERSION;
	if (mc_get_u8(r) != want_type || r->err)
		return MC_RPCSEC_ERR_MALFORMED;
	return MC_RPCSEC_OK;
}

/* Derive the direction keys from th, K and the kx session keys. */
static mc_rpcsec_status
derive_session(mc_rpcsec *s, const uint8_t peer_pk[32])
{
	uint8_t		kx_rx[32],
				kx_tx[32];
	const uint8_t *K = s->psk[s->chosen];
	int			rc;

	if (s->is_client)
		rc = crypto_kx_client_session_keys(kx_rx, kx_tx, s->eph_pk, s->eph_sk, peer_pk);
	else
		rc = crypto_kx_server_session_keys(kx_rx, kx_tx, s->eph_pk, s->eph_sk, peer_pk);
	sodium_memzero(s->eph_sk, sizeof(s->eph_sk));
	if (rc != 0)
		return MC_RPCSEC_ERR_AUTH;	/* degenerate public key */
	mac3(s->tx_key, K, s->is_client ? "mailcluster rpc c2s" : "mailcluster rpc s2c",
		 s->th, 32, kx_tx, 32);
	mac3(s->rx_key, K, s->is_client ? "mailcluster rpc s2c" : "mailcluster rpc c2s",
		 s->th, 32, kx_rx, 32);
	sodium_memzero(kx_rx, sizeof(kx_rx));
	sodium_memzero(kx_tx, sizeof(kx_tx));
	s->tx_ctr = s->rx_ctr = 0;
	return MC_RPCSEC_OK;
}

/* ---- handshake ------------------------------------------------------ */

static void
copy_ring(mc_rpcsec *s, const mc_keyring *kr)
{
	s->nkeys = kr->nkeys;
	for (int i = 0; i < kr->nkeys; i++)
	{
		memcpy(s->psk[i], kr->keys[i].rpc, 32);
		s->hint[i] = kr->keys[i].hint;
	}
}

static mc_rpcsec_status
init_common(mc_rpcsec *s, const mc_keyring *kr, uint16_t self_id, size_t max_frame)
{
	memset(s, 0, sizeof(*s));
	s->chosen = -1;
	s->max_frame = max_frame ? max_frame : MC_RPCSEC_DEFAULT_MAX_FRAME;
	s->self_id = self_id;
	if (kr == NULL || kr->nkeys <= 0 || kr->nkeys > MC_CRYPTO_MAX_KEYS || self_id == 0 ||
		s->max_frame > UINT32_MAX - 64)
		return fail(s, MC_RPCSEC_ERR_STATE);
	copy_ring(s, kr);
	crypto_kx_keypair(s->eph_pk, s->eph_sk);
	return MC_RPCSEC_OK;
}

mc_rpcsec_status
mc_rpcsec_init_client(mc_rpcsec *s, const mc_keyring *kr, uint16_t self_id,
					  uint16_t expected_peer, size_t max_frame)
{
	mc_writer	w;
	uint8_t		nonce[32];
	mc_rpcsec_status st = init_common(s, kr, self_id, max_frame);

	if (st != MC_RPCSEC_OK)
		return st;
	s->is_client = true;
	s->peer_id = expected_peer;
	s->phase = MC_RPCSEC_CLIENT_WAIT_WELCOME;
	randombytes_buf(nonce, sizeof(nonce));

	mc_writer_init(&w, s->hello, sizeof(s->hello));
	mc_put_bytes(&w, MAGIC, 4);
	mc_put_u8(&w, MC_RPCSEC_VERSION);
	mc_put_u8(&w, T_HELLO);
	mc_put_u16(&w, self_id);
	mc_put_u16(&w, expected_peer);
	mc_put_bytes(&w, nonce, 32);
	mc_put_bytes(&w, s->eph_pk, 32);
	mc_put_u8(&w, (uint8_t) s->nkeys);
	for (int i = 0; i < s->nkeys; i++)
	{
		uint8_t		mac[32];

		mac3(mac, s->psk[i], "mailcluster rpc hello", s->hello, HELLO_FIXED, NULL, 0);
		mc_put_u8(&w, s->hint[i]);
		mc_put_bytes(&w, mac, 32);
	}
	if (w.err)
		return fail(s, MC_RPCSEC_ERR_STATE);
	s->hello_len = w.len;
	if (!queue_record(s, s->hello, s->hello_len))
		return fail(s, MC_RPCSEC_ERR_NOMEM);
	return MC_RPCSEC_OK;
}

mc_rpcsec_status
mc_rpcsec_init_server(mc_rpcsec *s, const mc_keyring *kr, uint16_t self_id, size_t max_frame)
{
	mc_rpcsec_status st = init_common(s, kr, self_id, max_frame);

	if (st != MC_RPCSEC_OK)
		return st;
	s->is_client = false;
	s->phase = MC_RPCSEC_SERVER_WAIT_HELLO;
	return MC_RPCSEC_OK;
}

/* Server: a HELLO arrived.  Pick the key, answer with WELCOME. */
static mc_rpcsec_status
on_hello(mc_rpcsec *s, const uint8_t *body, size_t len)
{
	mc_reader	r;
	mc_writer	w;
	mc_rpcsec_status st;
	uint16_t	client_id,
				wanted_server;
	uint8_t		client_pk[32],
				nonce[32],
				mac[32];
	int			n,
				found = -1,
				found_client_idx = -1;

	mc_reader_init(&r, body, len);
	if ((st = check_header(&r, T_HELLO)) != MC_RPCSEC_OK)
		return st;
	client_id = mc_get_u16(&r);
	wanted_server = mc_get_u16(&r);
	mc_get_bytes(&r, nonce, 32);
	mc_get_bytes(&r, client_pk, 32);
	n = mc_get_u8(&r);
	if (r.err || client_id == 0 || n < 1 || n > MC_CRYPTO_MAX_KEYS ||
		mc_remaining(&r) != (size_t) n * 33)
		return MC_RPCSEC_ERR_MALFORMED;

	/* the client's preference order wins; every candidate is verified */
	for (int i = 0; i < n && found < 0; i++)
	{
		uint8_t		hint = mc_get_u8(&r);
		uint8_t		their[32];

		mc_get_bytes(&r, their, 32);
		for (int j = 0; j < s->nkeys && found < 0; j++)
		{
			if (s->hint[j] != hint)
				continue;
			mac3(mac, s->psk[j], "mailcluster rpc hello", body, HELLO_FIXED, NULL, 0);
			if (crypto_verify_32(mac, their) == 0)
			{
				found = j;
				found_client_idx = i;
			}
		}
	}
	if (r.err)
		return MC_RPCSEC_ERR_MALFORMED;
	if (found < 0)
		return MC_RPCSEC_ERR_AUTH;
	if (wanted_server != 0 && wanted_server != s->self_id)
		return MC_RPCSEC_ERR_PEER;
	s->chosen = found;
	s->peer_id = client_id;
	memcpy(s->hello, body, len);
	s->hello_len = len;

	/* WELCOME */
	{
		uint8_t		wel[WELCOME_LEN];

		randombytes_buf(nonce, sizeof(nonce));
		mc_writer_init(&w, wel, sizeof(wel));
		mc_put_bytes(&w, MAGIC, 4);
		mc_put_u8(&w, MC_RPCSEC_VERSION);
		mc_put_u8(&w, T_WELCOME);
		mc_put_u16(&w, s->self_id);
		mc_put_bytes(&w, nonce, 32);
		mc_put_bytes(&w, s->eph_pk, 32);
		mc_put_u8(&w, (uint8_t) found_client_idx);
		mac3(mac, s->psk[found], "mailcluster rpc server", s->hello, s->hello_len, wel, w.len);
		mc_put_bytes(&w, mac, 32);
		if (w.err || w.len != WELCOME_LEN)
			return MC_RPCSEC_ERR_STATE;
		{
			crypto_generichash_state hs;

			crypto_generichash_init(&hs, NULL, 0, 32);
			crypto_generichash_update(&hs, s->hello, s->hello_len);
			crypto_generichash_update(&hs, wel, w.len);
			crypto_generichash_final(&hs, s->th, 32);
		}
		/* derive first: a failure must not leave a WELCOME queued */
		if ((st = derive_session(s, client_pk)) != MC_RPCSEC_OK)
			return st;
		if (!queue_record(s, wel, w.len))
			return MC_RPCSEC_ERR_NOMEM;
	}
	s->phase = MC_RPCSEC_SERVER_WAIT_FINISH;
	return MC_RPCSEC_OK;
}

/* Client: the WELCOME arrived.  Verify the server, send FINISH. */
static mc_rpcsec_status
on_welcome(mc_rpcsec *s, const uint8_t *body, size_t len)
{
	mc_reader	r;
	mc_writer	w;
	mc_rpcsec_status st;
	uint16_t	server_id;
	uint8_t		nonce[32],
				server_pk[32],
				their[32],
				mac[32],
				fin[FINISH_LEN];
	int			chosen;

	mc_reader_init(&r, body, len);
	if ((st = check_header(&r, T_WELCOME)) != MC_RPCSEC_OK)
		return st;
	server_id = mc_get_u16(&r);
	mc_get_bytes(&r, nonce, 32);
	mc_get_bytes(&r, server_pk, 32);
	chosen = mc_get_u8(&r);
	mc_get_bytes(&r, their, 32);
	if (r.err || mc_remaining(&r) != 0 || len != WELCOME_LEN || server_id == 0)
		return MC_RPCSEC_ERR_MALFORMED;
	if (chosen >= s->nkeys)
		return MC_RPCSEC_ERR_AUTH;
	mac3(mac, s->psk[chosen], "mailcluster rpc server", s->hello, s->hello_len,
		 body, WELCOME_LEN - 32);
	if (crypto_verify_32(mac, their) != 0)
		return MC_RPCSEC_ERR_AUTH;
	if (s->peer_id != 0 && s->peer_id != server_id)
		return MC_RPCSEC_ERR_PEER;
	s->chosen = chosen;
	s->peer_id = server_id;
	{
		crypto_generichash_state hs;

		crypto_generichash_init(&hs, NULL, 0, 32);
		crypto_generichash_update(&hs, s->hello, s->hello_len);
		crypto_generichash_update(&hs, body, len);
		crypto_generichash_final(&hs, s->th, 32);
	}

	mc_writer_init(&w, fin, sizeof(fin));
	mc_put_bytes(&w, MAGIC, 4);
	mc_put_u8(&w, MC_RPCSEC_VERSION);
	mc_put_u8(&w, T_FINISH);
	mac3(mac, s->psk[chosen], "mailcluster rpc client", s->th, 32, NULL, 0);
	mc_put_bytes(&w, mac, 32);
	if ((st = derive_session(s, server_pk)) != MC_RPCSEC_OK)
		return st;
	if (w.err || !queue_record(s, fin, w.len))
		return MC_RPCSEC_ERR_NOMEM;
	s->phase = MC_RPCSEC_ESTABLISHED;
	sodium_memzero(s->psk, sizeof(s->psk));
	return MC_RPCSEC_OK;
}

/* Server: the FINISH arrived.  Verify the client. */
static mc_rpcsec_status
on_finish(mc_rpcsec *s, const uint8_t *body, size_t len)
{
	mc_reader	r;
	mc_rpcsec_status st;
	uint8_t		their[32],
				mac[32];

	mc_reader_init(&r, body, len);
	if ((st = check_header(&r, T_FINISH)) != MC_RPCSEC_OK)
		return st;
	mc_get_bytes(&r, their, 32);
	if (r.err || mc_remaining(&r) != 0)
		return MC_RPCSEC_ERR_MALFORMED;
	mac3(mac, s->psk[s->chosen], "mailcluster rpc client", s->th, 32, NULL, 0);
	if (crypto_verify_32(mac, their) != 0)
		return MC_RPCSEC_ERR_AUTH;
	s->phase = MC_RPCSEC_ESTABLISHED;
	sodium_memzero(s->psk, sizeof(s->psk));
	return MC_RPCSEC_OK;
}

/* Run every complete handshake record that is buffered. */
static mc_rpcsec_status
run_handshake(mc_rpcsec *s)
{
	while (s->phase != MC_RPCSEC_ESTABLISHED && s->phase != MC_RPCSEC_FAILED)
	{
		uint8_t    *body;
		size_t		len;
		int			got = peek_record(s, &body, &len);
		mc_rpcsec_status st;

		if (got < 0)
			return s->error;
		if (got == 0)
			break;
		switch (s->phase)
		{
			case MC_RPCSEC_SERVER_WAIT_HELLO:
				st = on_hello(s, body, len);
				break;
			case MC_RPCSEC_CLIENT_WAIT_WELCOME:
				st = on_welcome(s, body, len);
				break;
			case MC_RPCSEC_SERVER_WAIT_FINISH:
				st = on_finish(s, body, len);
				break;
			default:
				st = MC_RPCSEC_ERR_STATE;
				break;
		}
		if (st != MC_RPCSEC_OK)
			return fail(s, st);
		s->in.rd += 4 + len;
	}
	return s->phase == MC_RPCSEC_FAILED ? s->error : MC_RPCSEC_OK;
}

/* ---- public API ----------------------------------------------------- */

mc_rpcsec_status
mc_rpcsec_feed(mc_rpcsec *s, const uint8_t *data, size_t len)
{
	if (s->phase == MC_RPCSEC_FAILED)
		return s->error;
	if (len == 0)
		return MC_RPCSEC_OK;
	if (!buf_reserve(&s->in, len))
		return fail(s, MC_RPCSEC_ERR_NOMEM);
	memcpy(s->in.data + s->in.wr, data, len);
	s->in.wr += len;
	return run_handshake(s);
}

mc_rpcsec_status
mc_rpcsec_next_frame(mc_rpcsec *s, const uint8_t **frame, size_t *len)
{
	uint8_t    *body;
	size_t		blen;
	int			got;
	uint8_t		nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	unsigned long long mlen;
	mc_writer	w;

	*frame = NULL;
	*len = 0;
	if (s->phase == MC_RPCSEC_FAILED)
		return s->error;
	if (s->phase != MC_RPCSEC_ESTABLISHED)
		return MC_RPCSEC_OK;
	got = peek_record(s, &body, &blen);
	if (got < 0)
		return s->error;
	if (got == 0)
		return MC_RPCSEC_OK;
	if (blen < crypto_aead_xchacha20poly1305_ietf_ABYTES)
		return fail(s, MC_RPCSEC_ERR_MALFORMED);
	if (s->rx_ctr == UINT64_MAX)
		return fail(s, MC_RPCSEC_ERR_STATE);

	memset(nonce, 0, sizeof(nonce));
	mc_writer_init(&w, nonce + 16, 8);
	mc_put_u64(&w, s->rx_ctr);
	/* decrypt in place; the AAD is the 4-byte length prefix before it */
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(body, &mlen, NULL, body, blen,
												   body - 4, 4, nonce, s->rx_key) != 0)
		return fail(s, MC_RPCSEC_ERR_AUTH);
	s->rx_ctr++;
	s->frames_in++;
	s->in.rd += 4 + blen;
	*frame = body;
	*len = (size_t) mlen;
	return MC_RPCSEC_OK;
}

mc_rpcsec_status
mc_rpcsec_send(mc_rpcsec *s, const uint8_t *msg, size_t len)
{
	size_t		blen = len + crypto_aead_xchacha20poly1305_ietf_ABYTES;
	uint8_t		nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	uint8_t    *p;
	mc_writer	w;
	unsigned long long clen;

	if (s->phase == MC_RPCSEC_FAILED)
		return s->error;
	if (s->phase != MC_RPCSEC_ESTABLISHED)
		return MC_RPCSEC_ERR_STATE;
	if (len > s->max_frame)
		return MC_RPCSEC_ERR_OVERSIZED;
	if (len > 0 && msg == NULL)
		return MC_RPCSEC_ERR_STATE;
	if (s->tx_ctr == UINT64_MAX)
		return fail(s, MC_RPCSEC_ERR_STATE);
	if (!buf_reserve(&s->out, 4 + blen))
		return fail(s, MC_RPCSEC_ERR_NOMEM);

	p = s->out.data + s->out.wr;
	mc_writer_init(&w, p, 4);
	mc_put_u32(&w, (uint32_t) blen);
	memset(nonce, 0, sizeof(nonce));
	mc_writer_init(&w, nonce + 16, 8);
	mc_put_u64(&w, s->tx_ctr);
	crypto_aead_xchacha20poly1305_ietf_encrypt(p + 4, &clen, msg, len, p, 4, NULL,
											   nonce, s->tx_key);
	s->out.wr += 4 + clen;
	s->tx_ctr++;
	s->frames_out++;
	return MC_RPCSEC_OK;
}

const uint8_t *
mc_rpcsec_pending(const mc_rpcsec *s, size_t *len)
{
	*len = s->out.wr - s->out.rd;
	return *len ? s->out.data + s->out.rd : NULL;
}

void
mc_rpcsec_written(mc_rpcsec *s, size_t n)
{
	size_t		avail = s->out.wr - s->out.rd;

	s->out.rd += n < avail ? n : avail;
	if (s->out.rd == s->out.wr)
		s->out.rd = s->out.wr = 0;
}

mc_rpcsec_status
mc_rpcsec_eof(mc_rpcsec *s)
{
	size_t		pos = s->in.rd;

	if (s->phase == MC_RPCSEC_FAILED)
		return s->error;
	if (s->phase != MC_RPCSEC_ESTABLISHED)
		return fail(s, MC_RPCSEC_ERR_TRUNCATED);
	/* whole records may still be waiting; a partial one is a truncation */
	while (pos < s->in.wr)
	{
		mc_reader	r;
		uint32_t	n;

		mc_reader_init(&r, s->in.data + pos, s->in.wr - pos);
		n = mc_get_u32(&r);
		if (r.err || mc_remaining(&r) < n)
			return fail(s, MC_RPCSEC_ERR_TRUNCATED);
		pos += 4 + (size_t) n;
	}
	return MC_RPCSEC_OK;
}

bool
mc_rpcsec_established(const mc_rpcsec *s)
{
	return s->phase == MC_RPCSEC_ESTABLISHED;
}

uint16_t
mc_rpcsec_peer_id(const mc_rpcsec *s)
{
	return s->phase == MC_RPCSEC_ESTABLISHED ? s->peer_id : 0;
}

int
mc_rpcsec_key_index(const mc_rpcsec *s)
{
	return s->phase == MC_RPCSEC_ESTABLISHED ? s->chosen : -1;
}

void
mc_rpcsec_free(mc_rpcsec *s)
{
	buf_free(&s->in);
	buf_free(&s->out);
	sodium_memzero(s, sizeof(*s));
	s->phase = MC_RPCSEC_FAILED;
	s->error = MC_RPCSEC_ERR_STATE;
}
