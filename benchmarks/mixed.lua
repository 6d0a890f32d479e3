-- The mixed tracker load for wrk 4 (LuaJIT).
--
--   wrk -t1 -c100 -d10s -s mixed.lua http://127.0.0.1:8080/ -- PEERS_FILE [METHOD]
--
-- PEERS_FILE is what populate.py wrote: one line per registered peer,
--   PeerID AuthToken SwarmID Mode IP Port
-- and line N (from 1) is peer N-1 of the population (population.py).
--
-- Each request picks a method by weight and a peer at random:
--   KEEPALIVE 40 %, FIND 20 % (PeerNum 30), FIND_CHUNK 5 % (PeerNum 30, a
--   chunk every seed holds), STAT_REPORT 20 % (four Stats, two of them
--   scoped to the peer's swarm), JOIN 10 % (a LEECH re-joining its swarm,
--   PeerNum 30: the answer carries a peer list), CONNECT 5 % (a takeover
--   with the session's AuthToken, re-announcing the peer's addresses).
-- CONNECT issues a new AuthToken, so the CONNECT peers are a set of their
-- own (the last slot of every swarm, 1 in 50 peers), taken in turn; the
-- peer's index is in the TransactionID and response() keeps the new token.
-- Every TransactionID is unique (a per-run nonce and a counter), so the
-- tracker's retry cache never answers for the handler.
--
-- Every request is valid and must get 200: response() counts the others
-- and done() prints their number; a run with any is invalid.  done()
-- prints one line starting with "RESULT " holding JSON for run.py.
--
-- bare.lua runs this same script against the bare server (BARE = true).

local PER_SWARM = 50
local WEIGHTS = {
  {"KEEPALIVE", 40}, {"FIND", 20}, {"FIND_CHUNK", 5},
  {"STAT_REPORT", 20}, {"JOIN", 10}, {"CONNECT", 5},
}

local HEAD = '<?xml version="1.0" encoding="UTF-8"?><PPSPTrackerProtocol version="1.0"><Method>'
local TAIL = '</PPSPTrackerProtocol>'
local HEADERS = {["Content-Type"] = "application/ppsp-tracker+xml"}

local ids, tokens, swarms, modes, ips, ports = {}, {}, {}, {}, {}, {}
local others, leeches, connectors = {}, {}, {}
local table_of_methods = {}
local nonce, seq, nextConnect = "", 0, 1

-- Per-thread results, read by done() through thread:get().
sent = 0
bad = 0
badSample = ""
counts = {}

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local path = args[1]
  if not path then
    error("usage: wrk ... -s mixed.lua URL -- PEERS_FILE")
  end
  local i = 0
  for line in io.lines(path) do
    local id, token, swarm, mode, ip, port =
      line:match("^(%S+) (%S+) (%S+) (%S+) (%S+) (%S+)$")
    if not id then error("bad line in " .. path .. ": " .. line) end
    i = i + 1
    ids[i], tokens[i], swarms[i], modes[i], ips[i], ports[i] =
      id, token, swarm, mode, ip, tonumber(port)
    if (i - 1) % PER_SWARM == PER_SWARM - 1 then
      table.insert(connectors, i)
    else
      table.insert(others, i)
      if mode == "LEECH" then table.insert(leeches, i) end
    end
  end
  for _, w in ipairs(WEIGHTS) do
    -- A second argument (a method name) keeps that method alone.
    if args[2] == nil or args[2] == w[1] then
      for _ = 1, w[2] do table.insert(table_of_methods, w[1]) end
    end
    counts[w[1]] = 0
  end
  if #table_of_methods == 0 then error("unknown method " .. args[2]) end
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 100000)
  nonce = string.format("r%d%03d", os.time() % 1000000, math.random(0, 999))
end

local function common(method, i, tid)
  return HEAD .. method .. "</Method><TransactionID>" .. tid ..
    "</TransactionID><PeerID>" .. ids[i] .. "</PeerID><AuthToken>" ..
    tokens[i] .. "</AuthToken>"
end

local function addresses(i)
  local n = i - 1
  local s = math.floor(n / PER_SWARM)
  local slot = n % PER_SWARM
  local xml = '<PeerAddresses><PeerAddress ip="' .. ips[i] .. '" port="' ..
    ports[i] .. '" type="HOST" priority="1"/>'
  if n % 10 < 3 then
    xml = xml .. '<PeerAddress ip="192.168.' .. (s % 250) .. '.' ..
      (slot % 250 + 2) .. '" port="' .. ports[i] .. '" type="HOST" priority="2"/>'
  end
  return xml .. '</PeerAddresses>'
end

local function body(method)
  seq = seq + 1
  local tid = nonce .. "." .. seq
  if method == "CONNECT" then
    local i = connectors[nextConnect]
    nextConnect = nextConnect % #connectors + 1
    return common(method, i, "C" .. i .. "." .. tid) .. addresses(i) .. TAIL
  elseif method == "JOIN" then
    local i = leeches[math.random(#leeches)]
    return common(method, i, tid) .. "<SwarmID>" .. swarms[i] ..
      "</SwarmID><PeerMode>LEECH</PeerMode><PeerNum>30</PeerNum>" .. TAIL
  end
  local i = others[math.random(#others)]
  if method == "KEEPALIVE" then
    return common(method, i, tid) .. TAIL
  elseif method == "FIND" then
    return common(method, i, tid) .. "<SwarmID>" .. swarms[i] ..
      "</SwarmID><PeerNum>30</PeerNum>" .. TAIL
  elseif method == "FIND_CHUNK" then
    return common(method, i, tid) .. "<SwarmID>" .. swarms[i] ..
      "</SwarmID><PeerNum>30</PeerNum><ChunkID>" .. math.random(0, 1023) ..
      "</ChunkID>" .. TAIL
  else -- STAT_REPORT
    local s = swarms[i]
    return common(method, i, tid) ..
      '<Stats><Stat property="UploadedBytes" swarm="' .. s .. '">' ..
      math.random(0, 2000000000) .. '</Stat>' ..
      '<Stat property="DownloadedBytes" swarm="' .. s .. '">' ..
      math.random(0, 2000000000) .. '</Stat>' ..
      '<Stat property="AvailBandwidth">' .. math.random(100, 50000) .. '</Stat>' ..
      '<Stat property="ConcurrentLinks">' .. math.random(0, 80) .. '</Stat>' ..
      '</Stats>' .. TAIL
  end
end

function request()
  local method = table_of_methods[math.random(#table_of_methods)]
  counts[method] = counts[method] + 1
  sent = sent + 1
  return wrk.format("POST", nil, HEADERS, body(method))
end

function response(status, headers, resp)
  if status ~= 200 then
    bad = bad + 1
    if #badSample < 2000 then
      badSample = badSample .. status .. " " .. (resp or "") .. "\n"
    end
    return
  end
  if not BARE then
    local i = resp:match("<TransactionID>C(%d+)%.")
    if i then
      local token = resp:match("<AuthToken>([^<]+)</AuthToken>")
      if token then tokens[tonumber(i)] = token end
    end
  end
end

local function jsonString(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return string.format("\\u%04x", c:byte())
  end) .. '"'
end

function done(summary, latency, requests)
  local nbad, nsent, sample = 0, 0, ""
  local methods = {}
  for _, thread in ipairs(threads) do
    nbad = nbad + (thread:get("bad") or 0)
    nsent = nsent + (thread:get("sent") or 0)
    sample = sample .. (thread:get("badSample") or "")
    local c = thread:get("counts") or {}
    for k, v in pairs(c) do methods[k] = (methods[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(methods) do table.insert(parts, jsonString(k) .. ":" .. v) end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"rps":%.1f,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,' ..
    '"non200":%d,"socket_errors":%d,"sent":%d,"methods":{%s},"bad_sample":%s}\n',
    summary.requests, summary.duration, summary.bytes,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean,
    nbad, e.connect + e.read + e.write + e.timeout, nsent,
    table.concat(parts, ","), jsonString(sample)))
end
