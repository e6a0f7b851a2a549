/*
 * mc_keys.h — where the cluster secrets come from: the mailcluster.key
 * setting or the mailcluster.key_file file (checked like ssl_key_file),
 * turned into the crypto layer's keyring.
 */
#ifndef MC_KEYS_H
#define MC_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "mc_crypto.h"

/*
 * Would this mailcluster.key value parse into a keyring?  '' is accepted
 * (standalone).  On refusal writes the reason (never the secret) to err.
 */
extern bool mc_keys_validate_list(const char *value, bool by_line,
								  char *err, size_t errlen);

/*
 * Check a key file as PostgreSQL checks ssl_key_file — a regular file,
 * owned by the server's user, no group or other permissions — then read
 * and parse it.  With kr != NULL the parsed keyring is returned there.
 * On refusal writes a message naming the file into err.
 */
extern bool mc_key_file_check(const char *path, mc_keyring *kr,
							  char *err, size_t errlen);

/*
 * Build the keyring from the current settings (key, else key_file).
 * False with err filled if neither is set or the value is refused; *kr is
 * then left empty.
 */
extern bool mc_keys_load(mc_keyring *kr, char *err, size_t errlen);

/*
 * WARNING in the server log when kr holds a secret shorter than
 * MC_CRYPTO_WEAK_SECRET bytes (accepted, but easy to guess).  The gossip
 * worker calls it whenever it (re)loads the keys, so it is said once per
 * start or reload, not once per worker.
 */
extern void mc_keys_warn_weak(const mc_keyring *kr);

#endif
