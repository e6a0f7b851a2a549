/*
 * mc_members_file.c — saves and loads $PGDATA/pg_mailcluster/members.
 *
 * File layout: "MCMB" magic, u32 format version (1), u32 payload length,
 * u32 CRC-32C of the payload (all host-endian: the file never leaves the
 * node), then the SWIM core's export (mc_swim_export).
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file_perm.h"
#include "port/pg_crc32c.h"
#include "storage/fd.h"

#include "mc_members_file.h"

#define MEMBERS_DIR		"pg_mailcluster"
#define MEMBERS_FILE	MEMBERS_DIR "/members"
#define MEMBERS_TMP		MEMBERS_DIR "/members.tmp"
#define MEMBERS_MAGIC	0x424d434d	/* "MCMB" read as little-endian u32 */
#define MEMBERS_VERSION	1
#define MEMBERS_MAX		(16 * 1024 * 1024)

typedef struct MembersHeader
{
	uint32		magic;
	uint32		version;
	uint32		len;
	pg_crc32c	crc;
} MembersHeader;

/* CRC-32C of a buffer. */
static pg_crc32c
crc_of(const uint8 *buf, size_t len)
{
	pg_crc32c	crc;

	INIT_CRC32C(crc);
	COMP_CRC32C(crc, buf, len);
	FIN_CRC32C(crc);
	return crc;
}

/* mc_members_file_save — see mc_members_file.h. */
void
mc_members_file_save(const mc_swim *s)
{
	size_t		cap = 8192;
	size_t		len;
	uint8	   *buf = palloc(cap);
	MembersHeader hdr;
	int			fd;

	len = mc_swim_export(s, buf, cap);
	if (len > cap)
	{
		if (len > MEMBERS_MAX)
		{
			pfree(buf);
			elog(LOG, "mailcluster: member list too large to save (%zu bytes)", len);
			return;
		}
		buf = repalloc(buf, len);
		cap = len;
		len = mc_swim_export(s, buf, cap);
	}

	if (MakePGDirectory(MEMBERS_DIR) != 0 && errno != EEXIST)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("mailcluster: could not create directory \"%s\": %m", MEMBERS_DIR)));
		pfree(buf);
		return;
	}
	hdr.magic = MEMBERS_MAGIC;
	hdr.version = MEMBERS_VERSION;
	hdr.len = (uint32) len;
	hdr.crc = crc_of(buf, len);

	fd = OpenTransientFile(MEMBERS_TMP, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY);
	if (fd < 0)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("mailcluster: could not create file \"%s\": %m", MEMBERS_TMP)));
		pfree(buf);
		return;
	}
	errno = 0;
	if (write(fd, &hdr, sizeof(hdr)) != sizeof(hdr) ||
		write(fd, buf, len) != (ssize_t) len)
	{
		if (errno == 0)
			errno = ENOSPC;
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("mailcluster: could not write file \"%s\": %m", MEMBERS_TMP)));
		CloseTransientFile(fd);
		pfree(buf);
		return;
	}
	if (pg_fsync(fd) != 0)
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("mailcluster: could not fsync file \"%s\": %m", MEMBERS_TMP)));
	CloseTransientFile(fd);
	pfree(buf);
	(void) durable_rename(MEMBERS_TMP, MEMBERS_FILE, LOG);
}

/* mc_members_file_load — see mc_members_file.h. */
int
mc_members_file_load(mc_swim *s, uint64_t now_ms)
{
	MembersHeader hdr;
	uint8	   *buf;
	int			fd;
	int			n;

	fd = OpenTransientFile(MEMBERS_FILE, O_RDONLY | PG_BINARY);
	if (fd < 0)
	{
		if (errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("mailcluster: could not open file \"%s\": %m", MEMBERS_FILE)));
		return 0;
	}
	if (read(fd, &hdr, sizeof(hdr)) != sizeof(hdr) ||
		hdr.magic != MEMBERS_MAGIC || hdr.version != MEMBERS_VERSION ||
		hdr.len > MEMBERS_MAX)
	{
		CloseTransientFile(fd);
		ereport(LOG,
				(errmsg("mailcluster: ignoring damaged member file \"%s\" (bad header)", MEMBERS_FILE)));
		return -1;
	}
	buf = palloc(Max(hdr.len, 1));
	if (read(fd, buf, hdr.len) != (ssize_t) hdr.len || crc_of(buf, hdr.len) != hdr.crc)
	{
		CloseTransientFile(fd);
		pfree(buf);
		ereport(LOG,
				(errmsg("mailcluster: ignoring damaged member file \"%s\" (short or bad checksum)", MEMBERS_FILE)));
		return -1;
	}
	CloseTransientFile(fd);
	n = mc_swim_import(s, now_ms, buf, hdr.len);
	pfree(buf);
	if (n < 0)
		ereport(LOG,
				(errmsg("mailcluster: ignoring member file \"%s\" the gossip core could not read", MEMBERS_FILE)));
	return n;
}
