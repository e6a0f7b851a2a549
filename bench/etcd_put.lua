-- bench/etcd_put.lua — wrk script: every request is an etcd v3 put through
-- the JSON gateway (POST /v3/kv/put, base64 key and value), a distinct key
-- per request, a 32-byte value.  done() prints one machine-readable line:
--   WRKRESULT requests duration_us p50_us p99_us non2xx socket_errors
local b64chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
local function b64(data)
  return ((data:gsub('.', function(x)
    local r, b = '', x:byte()
    for i = 8, 1, -1 do r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and '1' or '0') end
    return r
  end) .. '0000'):gsub('%d%d%d?%d?%d?%d?', function(x)
    if #x < 6 then return '' end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == '1' and 2 ^ (6 - i) or 0) end
    return b64chars:sub(c + 1, c + 1)
  end) .. ({ '', '==', '=' })[#data % 3 + 1])
end

local counter = 0
local nthreads = 0
local value = b64(string.rep('v', 32))

function setup(thread)
  nthreads = nthreads + 1
  thread:set('tid', nthreads)
end

function init(args)
  wrk.method = 'POST'
  wrk.path = '/v3/kv/put'
  wrk.headers['Content-Type'] = 'application/json'
end

function request()
  counter = counter + 1
  local key = b64(string.format('bench/%d/%d', tid or 0, counter))
  return wrk.format(nil, nil, nil, '{"key":"' .. key .. '","value":"' .. value .. '"}')
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKRESULT %d %d %d %d %d %d\n', summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status,
    e.connect + e.read + e.write + e.timeout))
end
