-- bench/email_populate.sql — pgbench script for bench/email_query.sh: one
-- JMAP Email/set call creating :batch emails (one Raft log entry) in the
-- Inbox (:inbox) of account :acct.  Senders from a set of 500, subjects
-- from 1,000 topics, received times spread over a year, a third unread,
-- a one-line text body with a word from a set of 10,000.
SELECT mailcluster.jmap(jsonb_build_object(
  'using', jsonb_build_array('urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'),
  'methodCalls', jsonb_build_array(jsonb_build_array('Email/set', jsonb_build_object(
    'accountId', ':acct',
    'create', (SELECT jsonb_object_agg('c' || g, jsonb_build_object(
        'mailboxIds', jsonb_build_object(':inbox', true),
        'from', jsonb_build_array(jsonb_build_object('name', 'Sender ' || (r % 500), 'email', 'sender' || (r % 500) || '@example.org')),
        'to', jsonb_build_array(jsonb_build_object('name', 'User', 'email', 'user@example.org')),
        'subject', 'Message about topic' || (r % 1000) || ' number ' || g,
        'receivedAt', to_char((timestamptz '2026-01-01 00:00:00+00' + (r % 31536000) * interval '1 second') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
        'keywords', CASE WHEN r % 3 = 0 THEN '{}'::jsonb ELSE '{"$seen": true}'::jsonb END,
        'bodyValues', jsonb_build_object('1', jsonb_build_object('value', 'Hello, this is the body, word' || (r % 10000) || ' lorem ipsum dolor sit amet.')),
        'textBody', jsonb_build_array(jsonb_build_object('partId', '1', 'type', 'text/plain'))))
      FROM (SELECT g, (random() * 1e9)::bigint AS r FROM generate_series(1, :batch) g) s)),
    '0'))))->'methodResponses'->0->1->'created' IS NOT NULL AS ok;
