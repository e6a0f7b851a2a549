#!/usr/bin/env python3
"""bench/lib/cpu_roles.py — CPU time of PostgreSQL servers, split by process
role, read from /proc.  Used by bench/cpu_per_write.sh.

  cpu_roles.py snap PID...        print one JSON line: role -> CPU seconds,
                                  summed over each postmaster PID and all of
                                  its children (live ones by their title,
                                  exited ones through the postmaster's
                                  cutime/cstime, counted as "exited");
                                  CPW_BY_NODE=1 names the workers' roles
                                  by node ("n1-raft")
  cpu_roles.py diff BEFORE AFTER WRITES
                                  print the per-role difference in
                                  microseconds of CPU per write
"""
import json
import os
import sys

TICK = os.sysconf("SC_CLK_TCK")


def stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    # the command name is in parentheses and may hold spaces
    rest = s[s.rindex(")") + 2:].split()
    return rest  # rest[0] is field 3 (state)


def role_of(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            title = f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "gone"
    t = title.replace("postgres: ", "", 1)
    for key, role in (("mailcluster raft", "raft"), ("mailcluster apply", "apply"),
                      ("mailcluster gossip", "gossip"), ("mailcluster maint", "maintenance"),
                      ("walwriter", "walwriter"), ("walsender", "walsender"),
                      ("walreceiver", "walreceiver"), ("startup", "startup"),
                      ("checkpointer", "checkpointer"), ("background writer", "bgwriter"),
                      ("autovacuum", "autovacuum"), ("logical replication", "logical"),
                      ("stats", "stats")):
        if key in t:
            return role
    return "backend"


def children(ppid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            f = stat_fields(d)
        except OSError:
            continue
        if int(f[1]) == ppid:
            out.append(int(d))
    return out


def snap(pids):
    acc = {}
    by_node = os.environ.get("CPW_BY_NODE") == "1"
    for n, pm in enumerate(pids, 1):
        f = stat_fields(pm)
        # utime stime cutime cstime are fields 14-17, rest[11..14]
        acc["postmaster"] = acc.get("postmaster", 0) + (int(f[11]) + int(f[12])) / TICK
        acc["exited"] = acc.get("exited", 0) + (int(f[13]) + int(f[14])) / TICK
        for c in children(pm):
            try:
                cf = stat_fields(c)
            except OSError:
                continue
            r = role_of(c)
            if by_node and r not in ("backend", "gone"):
                r = f"n{n}-{r}"
            acc[r] = acc.get(r, 0) + (int(cf[11]) + int(cf[12])) / TICK
    return acc


def main():
    if sys.argv[1] == "snap":
        print(json.dumps(snap([int(p) for p in sys.argv[2:]])))
    elif sys.argv[1] == "diff":
        a = json.loads(open(sys.argv[2]).read())
        b = json.loads(open(sys.argv[3]).read())
        n = float(sys.argv[4])
        # backends that ended during the run are in "exited"; a backend
        # that was live in both snapshots is in "backend" of both
        rows = {}
        for k in set(a) | set(b):
            d = b.get(k, 0) - a.get(k, 0)
            if abs(d) > 0:
                rows[k] = d
        if "exited" in rows:
            rows["backend"] = rows.get("backend", 0) + rows.pop("exited")
        total = sum(rows.values())
        for k in sorted(rows, key=lambda k: -rows[k]):
            print(f"  {k:<12} {rows[k] * 1e6 / n:8.1f} us/write  ({rows[k]:.2f} s)")
        print(f"  {'total':<12} {total * 1e6 / n:8.1f} us/write  ({total:.2f} s over {int(n)} writes)")


if __name__ == "__main__":
    main()
