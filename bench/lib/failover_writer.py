#!/usr/bin/python3
"""bench/lib/failover_writer.py — the continuous writer of bench/failover.sh.

One writer thread per node (mailcluster: a SQL connection per node, each
write `SELECT mailcluster.account_create(...)`, forwarded to the leader by
followers; etcd: an HTTP connection per member, each write a v3 put through
the JSON gateway).  Each thread writes in a loop, one write at a time, with
short timeouts; after an error it reconnects and retries after RETRY_MS.
Every acknowledged write appends "<unix time of the ack> <node>" to OUT
(line-buffered), so the caller can find the last ack before and the first
ack after a kill.  Runs until SIGTERM or --seconds.

usage: failover_writer.py mc|etcd OUT port1,port2,... [--seconds N]
"""
import base64
import http.client
import json
import signal
import sys
import threading
import os
import time

RETRY_MS = 5
STATEMENT_TIMEOUT_MS = 1500
HTTP_TIMEOUT_S = 1.5

system, out_path, ports = sys.argv[1], sys.argv[2], [int(p) for p in sys.argv[3].split(',')]
seconds = float(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[4] == '--seconds' else 600.0
stop = threading.Event()
out = open(out_path, 'a', buffering=1)
lock = threading.Lock()
errors = {}


def ack(node):
    t = time.time()
    with lock:
        out.write('%.6f %d\n' % (t, node))


def err(node, e):
    with lock:
        k = '%d %s%s' % (node, type(e).__name__,
                           (' ' + e.pgcode) if getattr(e, 'pgcode', None) else '')
        errors[k] = errors.get(k, 0) + 1


def mc_writer(node, port):
    import psycopg2
    conn = None
    n = 0
    while not stop.is_set():
        try:
            if conn is None:
                conn = psycopg2.connect(host='127.0.0.1', port=port, user='mcbench', dbname='postgres',
                                        connect_timeout=1,
                                        options='-c statement_timeout=%d' % STATEMENT_TIMEOUT_MS)
                conn.autocommit = True
            n += 1
            with conn.cursor() as cur:
                cur.execute('SELECT mailcluster.account_create(%s)',
                            ('%s-%d-%d' % (os.environ.get('FO_PREFIX', 'fo'), node, n),))
                cur.fetchone()
            ack(node)
        except Exception as e:  # noqa: BLE001 - any failure: count, reconnect, retry
            err(node, e)
            try:
                if conn is not None:
                    conn.close()
            except Exception:  # noqa: BLE001
                pass
            conn = None
            time.sleep(RETRY_MS / 1000.0)


def etcd_writer(node, port):
    conn = None
    n = 0
    val = base64.b64encode(b'v' * 32).decode()
    while not stop.is_set():
        try:
            if conn is None:
                conn = http.client.HTTPConnection('127.0.0.1', port, timeout=HTTP_TIMEOUT_S)
            n += 1
            key = base64.b64encode(('failover/%d/%d' % (node, n)).encode()).decode()
            conn.request('POST', '/v3/kv/put', body=json.dumps({'key': key, 'value': val}),
                         headers={'Content-Type': 'application/json'})
            r = conn.getresponse()
            body = r.read()
            if r.status != 200 or b'"error"' in body:
                raise RuntimeError('HTTP %d %s' % (r.status, body[:100]))
            ack(node)
        except Exception as e:  # noqa: BLE001
            err(node, e)
            try:
                if conn is not None:
                    conn.close()
            except Exception:  # noqa: BLE001
                pass
            conn = None
            time.sleep(RETRY_MS / 1000.0)


signal.signal(signal.SIGTERM, lambda *a: stop.set())
fn = mc_writer if system == 'mc' else etcd_writer
threads = [threading.Thread(target=fn, args=(i + 1, p), daemon=True) for i, p in enumerate(ports)]
for t in threads:
    t.start()
end = time.time() + seconds
while not stop.is_set() and time.time() < end:
    time.sleep(0.1)
stop.set()
for t in threads:
    t.join(timeout=3)
sys.stderr.write('writer errors: %s\n' % (json.dumps(errors, sort_keys=True) if errors else 'none'))
