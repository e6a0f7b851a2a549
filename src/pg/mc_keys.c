/*
 * mc_keys.c — reads the cluster secrets from mailcluster.key or from the
 * file named by mailcluster.key_file, enforcing the same ownership and
 * permission rules PostgreSQL applies to ssl_key_file, and hands them to
 * the crypto core (src/core/mc_crypto.h) to become a keyring.
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mc_guc.h"
#include "mc_keys.h"

/* Largest key file we read: MC_CRYPTO_MAX_KEYS secrets plus comments. */
#define MC_KEY_FILE_MAX 65536

/*
 * mc_keys_validate_list — check a mailcluster.key value with the crypto
 * core's own validator, so the hook accepts exactly what the worker can use.
 */
bool
mc_keys_validate_list(const char *value, bool by_line, char *err, size_t errlen)
{
	const char *msg;

	if (by_line)
	{
		mc_keyring	kr;

		msg = mc_crypto_keyring_parse_lines(&kr, value, strlen(value));
		mc_crypto_keyring_clear(&kr);
	}
	else
		msg = mc_crypto_check_key_setting(value);
	if (msg == NULL)
		return true;
	strlcpy(err, msg, errlen);
	return false;
}

/*
 * mc_key_file_check — stat, ownership and mode checks, then read the whole
 * file (bounded) and parse it.  Relative paths are relative to the data
 * directory, which is the working directory of every server process.
 * Uses only plain libc so it is safe in a GUC check hook.
 */
bool
mc_key_file_check(const char *path, mc_keyring *kr, char *err, size_t errlen)
{
	struct stat st;
	int			fd;
	char	   *buf;
	ssize_t		n;
	size_t		len = 0;
	const char *msg;
	mc_keyring	tmp;

	if (stat(path, &st) != 0)
	{
		snprintf(err, errlen, "could not access key file \"%s\": %s", path, strerror(errno));
		return false;
	}
	if (!S_ISREG(st.st_mode))
	{
		snprintf(err, errlen, "key file \"%s\" is not a regular file", path);
		return false;
	}
	if (st.st_uid != geteuid())
	{
		snprintf(err, errlen, "key file \"%s\" must be owned by the database server's user", path);
		return false;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO))
	{
		snprintf(err, errlen,
				 "key file \"%s\" has group or world access; it must have permissions u=rw (0600) or less",
				 path);
		return false;
	}
	if (st.st_size > MC_KEY_FILE_MAX)
	{
		snprintf(err, errlen, "key file \"%s\" is larger than %d bytes", path, MC_KEY_FILE_MAX);
		return false;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
	{
		snprintf(err, errlen, "could not open key file \"%s\": %s", path, strerror(errno));
		return false;
	}
	buf = malloc(MC_KEY_FILE_MAX + 1);
	if (buf == NULL)
	{
		close(fd);
		snprintf(err, errlen, "out of memory reading key file \"%s\"", path);
		return false;
	}
	while (len < MC_KEY_FILE_MAX &&
		   (n = read(fd, buf + len, MC_KEY_FILE_MAX - len)) != 0)
	{
		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "could not read key file \"%s\": %s", path, strerror(errno));
			close(fd);
			free(buf);
			return false;
		}
		len += (size_t) n;
	}
	close(fd);
	msg = mc_crypto_keyring_parse_lines(kr ? kr : &tmp, buf, len);
	explicit_bzero(buf, len);
	free(buf);
	if (kr == NULL && msg == NULL)
		mc_crypto_keyring_clear(&tmp);
	if (msg != NULL)
	{
		snprintf(err, errlen, "key file \"%s\" holds no usable keys: %s", path, msg);
		return false;
	}
	return true;
}

/*
 * mc_keys_load — the keyring the gossip (and later RPC) traffic uses now.
 */
bool
mc_keys_load(mc_keyring *kr, char *err, size_t errlen)
{
	const char *msg;

	memset(kr, 0, sizeof(*kr));
	if (mc_key && mc_key[0])
	{
		msg = mc_crypto_keyring_parse(kr, mc_key);
		if (msg == NULL)
			return true;
		snprintf(err, errlen, "mailcluster.key: %s", msg);
		return false;
	}
	if (mc_key_file && mc_key_file[0])
		return mc_key_file_check(mc_key_file, kr, err, errlen);
	snprintf(err, errlen, "neither mailcluster.key nor mailcluster.key_file is set");
	return false;
}

/* See mc_keys.h. */
void
mc_keys_warn_weak(const mc_keyring *kr)
{
	if (kr->nweak > 0)
		ereport(WARNING,
				(errmsg("mailcluster: %d of the %d cluster secrets %s shorter than %d bytes",
						kr->nweak, kr->nkeys, kr->nweak == 1 ? "is" : "are",
						MC_CRYPTO_WEAK_SECRET),
				 errdetail("Every key of the cluster's traffic is derived from these secrets; a short one is easy to guess."),
				 errhint("Use secrets of at least %d random bytes in mailcluster.key or mailcluster.key_file.",
						 MC_CRYPTO_WEAK_SECRET)));
}
