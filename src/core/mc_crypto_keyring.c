/*
 * mc_crypto_keyring.c — parses the shared secret(s) into a keyring and
 * derives the per-purpose keys (see mc_crypto.h, doc/security.md).
 *
 * Derivation, per secret S (trimmed bytes):
 *   master = BLAKE2b-256(S, key = "mailcluster master key v1")
 *   gossip = crypto_kdf_derive_from_key(32, id 1, ctx "mcgossip", master)
 *   rpc    = crypto_kdf_derive_from_key(32, id 1, ctx "mcrpcpsk", master)
 *   hint   = first byte of crypto_kdf_derive_from_key(16, id 1, ctx "mckeyhnt", master)
 * No password stretching: the secret is an operator-chosen cluster secret
 * (one shorter than MC_CRYPTO_WEAK_SECRET bytes is accepted but counted as
 * weak, so the server can warn), and a GUC check hook must stay cheap.  Different contexts keep a gossip key from ever being
 * usable as an RPC key and vice versa.
 */
#include "mc_crypto.h"

#include <string.h>
#include <sodium.h>

_Static_assert(MC_CRYPTO_KEY_BYTES == crypto_kdf_KEYBYTES, "kdf key size");
_Static_assert(MC_CRYPTO_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "aead key size");

static const char master_label[] = "mailcluster master key v1";

int
mc_crypto_init(void)
{
	return sodium_init() < 0 ? -1 : 0;
}

void
mc_crypto_keyring_clear(mc_keyring *kr)
{
	sodium_memzero(kr, sizeof(*kr));
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Derive the keys of one secret into kr->keys[kr->nkeys]. */
static void
derive_one(mc_keyring *kr, const char *secret, size_t len)
{
	mc_crypto_key *k = &kr->keys[kr->nkeys];
	uint8_t		master[crypto_kdf_KEYBYTES];
	uint8_t		hint[16];

	crypto_generichash(master, sizeof(master), (const uint8_t *) secret, len,
					   (const uint8_t *) master_label, sizeof(master_label) - 1);
	crypto_kdf_derive_from_key(k->gossip, sizeof(k->gossip), 1, "mcgossip", master);
	crypto_kdf_derive_from_key(k->rpc, sizeof(k->rpc), 1, "mcrpcpsk", master);
	crypto_kdf_derive_from_key(hint, sizeof(hint), 1, "mckeyhnt", master);
	k->hint = hint[0];
	kr->nkeys++;
	sodium_memzero(master, sizeof(master));
	sodium_memzero(hint, sizeof(hint));
}

/*
 * Add one raw entry (untrimmed, [p, p+len)).  Returns NULL or the error.
 * Duplicates are detected on the derived keys, so no secret is kept.
 */
static const char *
add_entry(mc_keyring *kr, const char *p, size_t len)
{
	while (len > 0 && is_space(p[0]))
		p++, len--;
	while (len > 0 && is_space(p[len - 1]))
		len--;
	if (len == 0)
		return "empty secret in the list (check for doubled, leading or trailing separators)";
	if (len > MC_CRYPTO_MAX_SECRET)
		return "each secret must be at most 1024 bytes long";
	if (kr->nkeys >= MC_CRYPTO_MAX_KEYS)
		return "at most 8 secrets may be listed";
	derive_one(kr, p, len);
	if (len < MC_CRYPTO_WEAK_SECRET)
		kr->nweak++;
	for (int i = 0; i < kr->nkeys - 1; i++)
		if (sodium_memcmp(kr->keys[i].gossip, kr->keys[kr->nkeys - 1].gossip,
						  MC_CRYPTO_KEY_BYTES) == 0)
			return "the same secret is listed twice";
	return NULL;
}

const char *
mc_crypto_keyring_parse(mc_keyring *kr, const char *value)
{
	const char *err = NULL;
	const char *p;

	mc_crypto_keyring_clear(kr);
	if (value == NULL)
		return "no secret given";
	for (p = value; *p && is_space(*p); p++)
		;
	if (*p == '\0')
		return "no secret given";
	p = value;
	for (;;)
	{
		const char *comma = strchr(p, ',');
		size_t		n = comma ? (size_t) (comma - p) : strlen(p);

		if ((err = add_entry(kr, p, n)) != NULL)
			break;
		if (!comma)
			break;
		p = comma + 1;
	}
	if (err)
		mc_crypto_keyring_clear(kr);
	return err;
}

const char *
mc_crypto_keyring_parse_lines(mc_keyring *kr, const char *text, size_t len)
{
	const char *err = NULL;
	size_t		i = 0;

	mc_crypto_keyring_clear(kr);
	if (text == NULL)
		return "no secret given";
	while (i < len && err == NULL)
	{
		size_t		start = i;
		size_t		s;

		while (i < len && text[i] != '\n')
			i++;
		if (memchr(text + start, '\0', i - start) != NULL)
			err = "key file contains a NUL byte";
		else
		{
			/* blank and comment lines are skipped */
			for (s = start; s < i && is_space(text[s]); s++)
				;
			if (s < i && text[s] != '#')
				err = add_entry(kr, text + start, i - start);
		}
		i++;					/* past the newline */
	}
	if (err == NULL && kr->nkeys == 0)
		err = "key file holds no secret";
	if (err)
		mc_crypto_keyring_clear(kr);
	return err;
}

const char *
mc_crypto_check_key_setting(const char *value)
{
	mc_keyring	kr;
	const char *err;

	if (value == NULL || value[0] == '\0')
		return NULL;
	err = mc_crypto_keyring_parse(&kr, value);
	mc_crypto_keyring_clear(&kr);
	return err;
}
