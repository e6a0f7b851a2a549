/*
 * mc_crypto.c — seals and opens gossip datagrams and keeps the
 * per-(sender, source address) replay window (see mc_crypto.h for the packet layout and the contract).
 *
 * Opening authenticates before it looks at time or sequence, so only
 * packets from key holders can move the replay state, and the drop reason
 * of a forged packet is always AUTH_FAILED rather than STALE/REPLAYED.
 */
#include "mc_crypto.h"
#include "wire.h"

#include <string.h>
#include <sodium.h>

_Static_assert(MC_CRYPTO_NONCE_BYTES == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce size");
_Static_assert(MC_CRYPTO_TAG_BYTES == crypto_aead_xchacha20poly1305_ietf_ABYTES, "tag size");
_Static_assert(MC_CRYPTO_REPLAY_BITS % 64 == 0, "replay bitmap");

static const char *const drop_names[MC_DROP__COUNT] = {
	[MC_DROP_NONE] = "none",
	[MC_DROP_TRUNCATED] = "truncated",
	[MC_DROP_OVERSIZED] = "oversized",
	[MC_DROP_BAD_VERSION] = "bad_version",
	[MC_DROP_AUTH_FAILED] = "auth_failed",
	[MC_DROP_STALE] = "stale",
	[MC_DROP_REPLAYED] = "replayed",
	[MC_DROP_MALFORMED] = "malformed",
};

const char *
mc_crypto_drop_reason_name(mc_drop_reason r)
{
	if ((int) r < 0 || r >= MC_DROP__COUNT)
		return "unknown";
	return drop_names[r];
}

uint64_t
mc_crypto_seq_init(uint64_t now_ms)
{
	return now_ms << 20;
}

uint64_t
mc_crypto_source_tag(const uint8_t *addr, size_t addr_len, uint16_t port)
{
	crypto_generichash_state st;
	uint8_t		p[2] = {(uint8_t) (port >> 8), (uint8_t) port};
	uint8_t		h[8];
	uint64_t	tag = 0;

	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	if (addr != NULL && addr_len > 0)
		crypto_generichash_update(&st, addr, addr_len);
	crypto_generichash_update(&st, p, sizeof(p));
	crypto_generichash_final(&st, h, sizeof(h));
	for (int i = 0; i < 8; i++)
		tag = (tag << 8) | h[i];
	return tag;
}

void
mc_crypto_replay_reset(mc_crypto_replay *rp)
{
	memset(rp, 0, sizeof(*rp));
}

int
mc_crypto_seal_with(const mc_keyring *kr, int key_index, uint16_t sender,
					uint64_t now_ms, uint64_t seq,
					const uint8_t *payload, size_t plen,
					uint8_t *out, size_t out_cap)
{
	const mc_crypto_key *k;
	mc_writer	w;
	unsigned long long clen;
	uint8_t		nonce[MC_CRYPTO_NONCE_BYTES];

	if (kr == NULL || key_index < 0 || key_index >= kr->nkeys || sender == 0 ||
		plen > MC_CRYPTO_MAX_PAYLOAD || (plen > 0 && payload == NULL) ||
		out_cap < plen + MC_CRYPTO_OVERHEAD)
		return -1;
	k = &kr->keys[key_index];
	randombytes_buf(nonce, sizeof(nonce));

	mc_writer_init(&w, out, out_cap);
	mc_put_u8(&w, MC_CRYPTO_PACKET_VERSION);
	mc_put_u8(&w, k->hint);
	mc_put_u16(&w, sender);
	mc_put_u64(&w, now_ms);
	mc_put_u64(&w, seq);
	mc_put_bytes(&w, nonce, sizeof(nonce));
	if (w.err || w.len != MC_CRYPTO_HEADER_BYTES)
		return -1;

	crypto_aead_xchacha20poly1305_ietf_encrypt(out + MC_CRYPTO_HEADER_BYTES, &clen,
											   payload, plen,
											   out, MC_CRYPTO_HEADER_BYTES,
											   NULL, nonce, k->gossip);
	return (int) (MC_CRYPTO_HEADER_BYTES + clen);
}

int
mc_crypto_seal(const mc_keyring *kr, uint16_t sender, uint64_t now_ms,
			   uint64_t seq, const uint8_t *payload, size_t plen,
			   uint8_t *out, size_t out_cap)
{
	return mc_crypto_seal_with(kr, 0, sender, now_ms, seq, payload, plen, out, out_cap);
}

/*
 * Find the slot of (sender, src), or claim a free or expired one; NULL if
 * the table is full or `sender` already has MC_CRYPTO_REPLAY_ADDRS_PER_SENDER
 * live slots for other addresses.
 */
static mc_replay_slot *
replay_slot(mc_crypto_replay *rp, uint16_t sender, uint64_t src, uint64_t now_ms)
{
	uint64_t	expiry = now_ms > MC_CRYPTO_REPLAY_WINDOW_MS ? now_ms - MC_CRYPTO_REPLAY_WINDOW_MS : 0;
	mc_replay_slot *spare = NULL;
	size_t		home = (size_t) ((sender ^ src ^ (src >> 32)) % MC_CRYPTO_REPLAY_SENDERS);
	int			live_same_id = 0;

	for (size_t n = 0; n < MC_CRYPTO_REPLAY_SENDERS; n++)
	{
		mc_replay_slot *s = &rp->slots[(home + n) % MC_CRYPTO_REPLAY_SENDERS];
		bool		expired = s->sender == 0 || s->max_ts < expiry;

		if (s->sender == sender && s->src == src)
			return s;
		if (s->sender == sender && !expired)
			live_same_id++;
		/*
		 * A slot whose newest accepted packet is older than the window can
		 * be reused: every packet it remembers would now fail the
		 * timestamp check anyway.
		 */
		if (spare == NULL && expired)
			spare = s;
	}
	if (live_same_id >= MC_CRYPTO_REPLAY_ADDRS_PER_SENDER)
		return NULL;
	if (spare)
	{
		memset(spare, 0, sizeof(*spare));
		spare->sender = sender;
		spare->src = src;
	}
	return spare;
}

/* Accept (and record) seq, or say it was seen / is below the window. */
static bool
replay_accept(mc_replay_slot *s, uint64_t seq, uint64_t ts, uint64_t now_ms)
{
	uint64_t	expiry = now_ms > MC_CRYPTO_REPLAY_WINDOW_MS ? now_ms - MC_CRYPTO_REPLAY_WINDOW_MS : 0;
	const int	words = MC_CRYPTO_REPLAY_BITS / 64;

	/* An expired slot holds nothing a fresh packet could collide with. */
	if (s->max_ts != 0 && s->max_ts < expiry)
	{
		uint16_t	sender = s->sender;
		uint64_t	src = s->src;

		memset(s, 0, sizeof(*s));
		s->sender = sender;
		s->src = src;
	}
	if (s->max_ts == 0)
	{
		/* first packet from this sender */
		s->max_seq = seq;
		s->bits[0] = 1;
	}
	else if (seq > s->max_seq)
	{
		uint64_t	shift = seq - s->max_seq;

		if (shift >= MC_CRYPTO_REPLAY_BITS)
			memset(s->bits, 0, sizeof(s->bits));
		else
		{
			int			ws = (int) (shift / 64),
						bs = (int) (shift % 64);

			for (int i = words - 1; i >= 0; i--)
			{
				uint64_t	v = 0;

				if (i - ws >= 0)
					v = s->bits[i - ws] << bs;
				if (bs && i - ws - 1 >= 0)
					v |= s->bits[i - ws - 1] >> (64 - bs);
				s->bits[i] = v;
			}
		}
		s->bits[0] |= 1;
		s->max_seq = seq;
	}
	else
	{
		uint64_t	back = s->max_seq - seq;

		if (back >= MC_CRYPTO_REPLAY_BITS)
			return false;
		if (s->bits[back / 64] & ((uint64_t) 1 << (back % 64)))
			return false;
		s->bits[back / 64] |= (uint64_t) 1 << (back % 64);
	}
	if (ts > s->max_ts)
		s->max_ts = ts;
	return true;
}

mc_drop_reason
mc_crypto_open(const mc_keyring *kr, mc_crypto_replay *rp, uint64_t now_ms,
			   const uint8_t *pkt, size_t len,
			   uint8_t *out, size_t out_cap, size_t *out_len,
			   mc_packet_info *info)
{
	return mc_crypto_open_from(kr, rp, 0, now_ms, pkt, len, out, out_cap, out_len, info);
}

mc_drop_reason
mc_crypto_open_from(const mc_keyring *kr, mc_crypto_replay *rp, uint64_t src_tag,
					uint64_t now_ms, const uint8_t *pkt, size_t len,
					uint8_t *out, size_t out_cap, size_t *out_len,
					mc_packet_info *info)
{
	mc_reader	r;
	uint8_t		version,
				hint;
	uint16_t	sender;
	uint64_t	ts,
				seq;
	uint8_t		nonce[MC_CRYPTO_NONCE_BYTES];
	size_t		clen;
	int			opened = -1;
	mc_replay_slot *slot;

	*out_len = 0;
	if (len > MC_CRYPTO_MAX_PACKET)
		return MC_DROP_OVERSIZED;
	if (len == 0 || pkt == NULL)
		return MC_DROP_TRUNCATED;

	mc_reader_init(&r, pkt, len);
	version = mc_get_u8(&r);
	if (version != MC_CRYPTO_PACKET_VERSION)
		return MC_DROP_BAD_VERSION;
	if (len < MC_CRYPTO_OVERHEAD)
		return MC_DROP_TRUNCATED;
	hint = mc_get_u8(&r);
	sender = mc_get_u16(&r);
	ts = mc_get_u64(&r);
	seq = mc_get_u64(&r);
	mc_get_bytes(&r, nonce, sizeof(nonce));
	if (r.err)
		return MC_DROP_TRUNCATED;
	if (sender == 0)
		return MC_DROP_MALFORMED;
	clen = mc_remaining(&r);
	if (out_cap < clen - MC_CRYPTO_TAG_BYTES)
		return MC_DROP_MALFORMED;
	if (kr == NULL)
		return MC_DROP_AUTH_FAILED;

	for (int i = 0; i < kr->nkeys && opened < 0; i++)
	{
		unsigned long long mlen;

		if (kr->keys[i].hint != hint)
			continue;
		if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &mlen, NULL,
													   pkt + MC_CRYPTO_HEADER_BYTES, clen,
													   pkt, MC_CRYPTO_HEADER_BYTES,
													   nonce, kr->keys[i].gossip) == 0)
			opened = i;
	}
	if (opened < 0)
		return MC_DROP_AUTH_FAILED;

	if (ts + MC_CRYPTO_REPLAY_WINDOW_MS < now_ms || ts > now_ms + MC_CRYPTO_REPLAY_WINDOW_MS ||
		ts == 0)
	{
		sodium_memzero(out, clen - MC_CRYPTO_TAG_BYTES);
		return MC_DROP_STALE;
	}
	slot = rp ? replay_slot(rp, sender, src_tag, now_ms) : NULL;
	if (rp && (slot == NULL || !replay_accept(slot, seq, ts, now_ms)))
	{
		sodium_memzero(out, clen - MC_CRYPTO_TAG_BYTES);
		return MC_DROP_REPLAYED;
	}

	*out_len = clen - MC_CRYPTO_TAG_BYTES;
	if (info)
	{
		info->sender = sender;
		info->timestamp_ms = ts;
		info->seq = seq;
		info->key_index = opened;
	}
	return MC_DROP_NONE;
}
