# -*- test-case-name: ppsp.test.test_redisstore -*-
"""
The Lua scripts of L{RedisPeerStore<ppsp.tracker.redisstore.RedisPeerStore>}:
one script for each store method, so that each method is one round trip
(C{EVALSHA}) and is applied atomically by the server.

Every script gets the key prefix as C{ARGV[1]} and builds its key names
from it (C{docs/redis.rst} lists them); the arguments that follow are
the method's.  Every script answers an integer, or a JSON text that it
assembles from what the keys hold (the membership records and the peers'
C{v} fields are JSON already, and are copied as they are), so that the
tracker decodes an answer with one C{json.loads}.  Times and costs arrive as the strings Python wrote (C{repr} of
a float, a decimal integer), which Redis compares exactly; chunk IDs
arrive as 16 hexadecimal digits, which compare as strings in the order of
the numbers, so that no script computes with a chunk ID (Lua's numbers are
doubles, chunk IDs have 64 bits).

The cost of a kept statistic is computed here, from the stored value it
replaces, with the constants of L{ppsp.tracker.redisstore}: the module
formats them into L{PRELUDE} (see L{script}).
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

__all__ = ["Script", "script", "PRELUDE", "SOURCES"]


class Script(NamedTuple):
    """
    One Lua script: its name, its source and the SHA-1 digest under which
    C{EVALSHA} calls it.
    """

    name: str
    source: str
    sha: str


def script(name: str, body: str, statCost: int, statsCost: int) -> Script:
    """
    The script C{name}: L{PRELUDE} with the cost constants, then C{body}.

    @param statCost: the fixed bytes of one kept statistic (its name and
        its stored value are added).
    @param statsCost: the bytes of a target's first kept statistics.
    """
    source = PRELUDE.replace("@STAT@", str(statCost)).replace("@STATS@", str(statsCost)) + body
    return Script(name, source, hashlib.sha1(source.encode("utf-8")).hexdigest())


#: What every script starts with: key names and the operations that
#: several scripts share (reading a peer, ending a membership, removing a
#: peer, merging statistics, keeping the accounts).
PRELUDE = r"""
local P = ARGV[1]
local DL = P .. 'deadlines'
local XD = P .. 'expiries'
local EM = P .. 'empty'
local SW = P .. 'swarms'
local MODEKEY = {SEED = 'S', LIVESEED = 'V'}
local function pkey(id) return P .. 'p:' .. id end
local function wkey(id) return P .. 'w:' .. id end
local function akey(k) return P .. 'a:' .. k end
local function skey(sid, suffix) return P .. '{' .. sid .. '}:' .. suffix end
-- The set of a swarm's members of one network (an IPv4 /24, an IPv6 /48).
local function nkey(sid, nw) return skey(sid, 'n:' .. nw) end
local function xmember(sid, id) return cjson.encode({sid, id}) end
local function statCost(name, value) return @STAT@ + #name + #value end

-- The peer's JSON: [id, [token, ip, port, addresses, statPort, connectedAt,
-- deadline, identity, address key, held], stats or null, address held,
-- [[SwarmID, membership record]...]], or nil.
local FIELDS = {'t', 'ip', 'po', 'ad', 'sp', 'ca', 'dl', 'id', 'k', 'h', 'st'}
local function readPeer(id)
  local f = redis.call('HMGET', pkey(id), unpack(FIELDS))
  if not f[1] then return nil end
  local st = f[11]
  f[11] = nil
  local ah = redis.call('HGET', akey(f[9]), 'h') or '0'
  local ms = {}
  for _, sid in ipairs(redis.call('SMEMBERS', wkey(id))) do
    local raw = redis.call('HGET', skey(sid, 'ms'), id)
    if raw then ms[#ms + 1] = '[' .. cjson.encode(sid) .. ',' .. raw .. ']' end
  end
  return '[' .. cjson.encode(id) .. ',' .. cjson.encode(f) .. ',' .. (st ~= '' and st or 'null')
    .. ',' .. ah .. ',[' .. table.concat(ms, ',') .. ']]'
end

local function charge(id, delta)
  if delta ~= 0 then
    local key = pkey(id)
    redis.call('HINCRBY', key, 'h', delta)
    redis.call('HINCRBY', akey(redis.call('HGET', key, 'k')), 'h', delta)
  end
end

local function open(k, held)
  redis.call('HINCRBY', akey(k), 'n', 1)
  redis.call('HINCRBY', akey(k), 'h', held)
end

local function release(k, held)
  local a = akey(k)
  if redis.call('HINCRBY', a, 'n', -1) <= 0 then
    redis.call('DEL', a)
  else
    redis.call('HINCRBY', a, 'h', -held)
  end
end

local function touch(id, deadline)
  redis.call('HSET', pkey(id), 'dl', deadline)
  redis.call('ZADD', DL, deadline, id)
end

local function mergePeerStats(id, values)
  local key = pkey(id)
  local raw = redis.call('HGET', key, 'st')
  local kept = raw ~= '' and cjson.decode(raw) or nil
  local stats = kept or {}
  local delta, any = 0, false
  for name, value in pairs(values) do
    any = true
    local old = stats[name]
    if old then delta = delta - statCost(name, old) end
    delta = delta + statCost(name, value)
    stats[name] = value
  end
  if not any then return 0 end
  if not kept then delta = delta + @STATS@ end
  redis.call('HSET', key, 'st', cjson.encode(stats))
  return delta
end

local function mergeMemberStats(rec, values)
  local delta, before = 0, rec.ns
  for name, value in pairs(values) do
    local old = rec.s[name]
    if old then delta = delta - statCost(name, old) else rec.ns = rec.ns + 1 end
    delta = delta + statCost(name, value)
    rec.s[name] = value
  end
  if before == 0 and rec.ns > 0 then delta = delta + @STATS@ end
  rec.sc = rec.sc + delta
  return delta
end

-- updates: a list of {false, values} (the peer's) or {SwarmID, values}.
local function applyStats(id, updates)
  local delta = 0
  for _, u in ipairs(updates) do
    local scope, values = u[1], u[2]
    if scope == false then
      delta = delta + mergePeerStats(id, values)
    else
      local ms = skey(scope, 'ms')
      local raw = redis.call('HGET', ms, id)
      if raw then
        local rec = cjson.decode(raw)
        delta = delta + mergeMemberStats(rec, values)
        redis.call('HSET', ms, id, cjson.encode(rec))
      end
    end
  end
  charge(id, delta)
end

local function becameEmpty(sid, now)
  if redis.call('SCARD', skey(sid, 'm')) == 0 then
    local info = skey(sid, 'i')
    redis.call('HSET', info, 'es', now)
    if redis.call('HGET', info, 'pr') == '0' then redis.call('ZADD', EM, now, sid) end
  end
end

local function removeMember(id, sid, now)
  local ms = skey(sid, 'ms')
  local raw = redis.call('HGET', ms, id)
  if not raw then return false end
  local rec = cjson.decode(raw)
  redis.call('HDEL', ms, id)
  redis.call('SREM', skey(sid, 'm'), id)
  local nw = redis.call('HGET', pkey(id), 'nw')
  if nw and nw ~= '' then redis.call('SREM', nkey(sid, nw), id) end
  local mk = MODEKEY[rec.m]
  if mk then redis.call('ZREM', skey(sid, mk), id) end
  for _, k in ipairs(rec.ck) do redis.call('SREM', skey(sid, k), id) end
  if rec.x ~= '' then redis.call('ZREM', XD, xmember(sid, id)) end
  redis.call('SREM', wkey(id), sid)
  charge(id, -(rec.mc + rec.cc + rec.sc))
  becameEmpty(sid, now)
  return true
end

local function removePeer(id, now)
  for _, sid in ipairs(redis.call('SMEMBERS', wkey(id))) do removeMember(id, sid, now) end
  local key = pkey(id)
  local k = redis.call('HGET', key, 'k')
  release(k, tonumber(redis.call('HGET', key, 'h')))
  redis.call('DEL', key, wkey(id))
  redis.call('ZREM', DL, id)
end

local function forgetSwarm(sid)
  redis.call('DEL', skey(sid, 'i'), skey(sid, 'm'), skey(sid, 'ms'), skey(sid, 'S'), skey(sid, 'V'))
  redis.call('ZREM', EM, sid)
  redis.call('SREM', SW, sid)
end

local function swarmState(sid)
  local info = redis.call('HMGET', skey(sid, 'i'), 'pr', 'es')
  if not info[1] then return false end
  return {sid, info[1], info[2] or '', redis.call('SCARD', skey(sid, 'm')),
          redis.call('ZCARD', skey(sid, 'S')), redis.call('ZCARD', skey(sid, 'V'))}
end
"""

#: The body of each script, by name; ARGV[1] is always the prefix.
SOURCES = {
    # ARGV: id
    "peer": r"""
return readPeer(ARGV[2]) or 'null'
""",
    # ARGV: id, swarmID, count, chunk (16 hex digits, or ''), seed,
    # the chunk-index buckets of the chunk...
    "lookup": r"""
local id, sid, count, c = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local peer = readPeer(id) or 'null'
if redis.call('EXISTS', skey(sid, 'i')) == 0 then return '[' .. peer .. ',null]' end
math.randomseed(tonumber(ARGV[6]))
local mkey, ms = skey(sid, 'm'), skey(sid, 'ms')
local size = redis.call('SCARD', mkey)
local seeds = redis.call('ZRANGE', skey(sid, 'S'), 0, -1)
local lives = redis.call('ZRANGE', skey(sid, 'V'), 0, -1)
local order, seen, raws = {}, {}, {}
local function want(pid)
  if not seen[pid] then seen[pid] = true; order[#order + 1] = pid end
end
for _, pid in ipairs(seeds) do want(pid) end
for _, pid in ipairs(lives) do want(pid) end
-- The draw asks for as many more members as it may find SEEDs, LIVESEEDs
-- (held already) and the requester, so that at least count others are held.
local extra = #seeds + #lives + 1
if c == '' then
  local nw = peer ~= 'null' and count > 0 and redis.call('HGET', pkey(id), 'nw')
  if nw and nw ~= '' then
    -- Members of the requester's own network, for the locality strategy.
    for _, pid in ipairs(redis.call('SRANDMEMBER', nkey(sid, nw), count + 1)) do want(pid) end
  end
  if count > 0 then
    for _, pid in ipairs(redis.call('SRANDMEMBER', mkey, count + extra)) do want(pid) end
  end
elseif count > 0 then
  local holders, looked = {}, {}
  for i = 7, #ARGV do
    local bucket = skey(sid, ARGV[i])
    local n = redis.call('SCARD', bucket)
    if n > 0 then
      local ids
      if n <= math.max(256, 8 * count) then
        ids = redis.call('SMEMBERS', bucket)
      else
        ids = redis.call('SRANDMEMBER', bucket, 4 * count)
      end
      for _, pid in ipairs(ids) do
        if not looked[pid] then
          looked[pid] = true
          local raw = redis.call('HGET', ms, pid)
          if raw then
            raws[pid] = raw
            for s, e in string.gmatch(cjson.decode(raw).ch, '(%x+)-(%x+)') do
              if s <= c and c <= e then holders[#holders + 1] = pid; break end
            end
          end
        end
      end
    end
  end
  for i = 1, math.min(count + 1, #holders) do
    local j = math.random(i, #holders)
    holders[i], holders[j] = holders[j], holders[i]
    want(holders[i])
  end
end
if peer ~= 'null' and redis.call('HEXISTS', ms, id) == 1 then want(id) end
-- Each member: [PeerID, [ip, port, addresses, connectedAt], deadline,
-- the peer's statistics or null, the membership record].
local members = {}
for _, pid in ipairs(order) do
  local raw = raws[pid] or redis.call('HGET', ms, pid)
  local f = redis.call('HMGET', pkey(pid), 'v', 'dl', 'st')
  if raw and f[1] then
    members[#members + 1] = '[' .. cjson.encode(pid) .. ',' .. f[1] .. ',' .. f[2] .. ','
      .. (f[3] ~= '' and f[3] or 'null') .. ',' .. raw .. ']'
  end
end
return '[' .. peer .. ',[' .. size .. ',' .. #seeds .. ',' .. #lives .. ',['
  .. table.concat(members, ',') .. ']]]'
""",
    # ARGV: address key
    "usage": r"""
local a = redis.call('HMGET', akey(ARGV[2]), 'n', 'h')
return {tonumber(a[1]) or 0, tonumber(a[2]) or 0, redis.call('ZCARD', DL)}
""",
    # ARGV: swarmID
    "swarm": r"""
return cjson.encode(swarmState(ARGV[2]))
""",
    # ARGV: cursor, count
    "peers": r"""
local page = redis.call('ZSCAN', DL, ARGV[2], 'COUNT', ARGV[3])
local peers = {}
for i = 1, #page[2], 2 do
  local st = readPeer(page[2][i])
  if st then peers[#peers + 1] = st end
end
return '[' .. cjson.encode(page[1]) .. ',[' .. table.concat(peers, ',') .. ']]' 
""",
    # ARGV: cursor, count
    "swarms": r"""
local page = redis.call('SSCAN', SW, ARGV[2], 'COUNT', ARGV[3])
local swarms = {}
for _, sid in ipairs(page[2]) do
  local st = swarmState(sid)
  if st then swarms[#swarms + 1] = cjson.encode(st) end
end
return '[' .. cjson.encode(page[1]) .. ',[' .. table.concat(swarms, ',') .. ']]' 
""",
    "counts": r"""
return {redis.call('ZCARD', DL), redis.call('SCARD', SW)}
""",
    # ARGV: id, token, ip, port, addresses, statPort, connectedAt, deadline,
    # identity, address key, record cost, what a view shows (JSON),
    # statistics (JSON), network
    "register": r"""
local id = ARGV[2]
local key = pkey(id)
if redis.call('EXISTS', key) == 1 then return 0 end
local rc = tonumber(ARGV[12])
redis.call('HSET', key, 't', ARGV[3], 'ip', ARGV[4], 'po', ARGV[5], 'ad', ARGV[6],
           'sp', ARGV[7], 'ca', ARGV[8], 'dl', ARGV[9], 'id', ARGV[10], 'k', ARGV[11],
           'rc', rc, 'v', ARGV[13], 'h', 0, 'st', '', 'nw', ARGV[15])
redis.call('ZADD', DL, ARGV[9], id)
open(ARGV[11], 0)
charge(id, rc)
applyStats(id, {{false, cjson.decode(ARGV[14])}})
return 1
""",
    # ARGV: id, token, ip, port, addresses, statPort, connectedAt, deadline,
    # identity, address key, record cost, what a view shows (JSON), the
    # token replaced, updates (JSON), network
    "takeOver": r"""
local id = ARGV[2]
local key = pkey(id)
local token = redis.call('HGET', key, 't')
if not token or token ~= ARGV[14] then return 0 end
local old = redis.call('HMGET', key, 'k', 'rc', 'h')
local k = ARGV[11]
if old[1] ~= k then
  release(old[1], tonumber(old[3]))
  open(k, tonumber(old[3]))
end
local nw, oldnw = ARGV[16], redis.call('HGET', key, 'nw') or ''
if nw ~= oldnw then
  for _, sid in ipairs(redis.call('SMEMBERS', wkey(id))) do
    if oldnw ~= '' then redis.call('SREM', nkey(sid, oldnw), id) end
    if nw ~= '' then redis.call('SADD', nkey(sid, nw), id) end
  end
end
redis.call('HSET', key, 't', ARGV[3], 'ip', ARGV[4], 'po', ARGV[5], 'ad', ARGV[6],
           'sp', ARGV[7], 'ca', ARGV[8], 'id', ARGV[10], 'k', k, 'rc', ARGV[12], 'v', ARGV[13],
           'nw', nw)
charge(id, tonumber(ARGV[12]) - tonumber(old[2]))
applyStats(id, cjson.decode(ARGV[15]))
touch(id, ARGV[9])
return 1
""",
    # ARGV: id, deadline
    "touch": r"""
if redis.call('EXISTS', pkey(ARGV[2])) == 0 then return 0 end
touch(ARGV[2], ARGV[3])
return 1
""",
    # ARGV: id, swarmID, mode, ExpireTime (or ''), deadline, now, member
    # cost, updates (JSON)
    "join": r"""
local id, sid, mode, x, now = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[7]
if redis.call('EXISTS', pkey(id)) == 0 then return 0 end
local info, mkey, ms = skey(sid, 'i'), skey(sid, 'm'), skey(sid, 'ms')
if redis.call('EXISTS', info) == 0 then
  redis.call('HSET', info, 'pr', '0', 'es', now)
  redis.call('SADD', SW, sid)
end
local raw = redis.call('HGET', ms, id)
if not raw then
  if redis.call('SCARD', mkey) == 0 then
    redis.call('HDEL', info, 'es')
    redis.call('ZREM', EM, sid)
  end
  redis.call('SADD', mkey, id)
  redis.call('SADD', wkey(id), sid)
  local nw = redis.call('HGET', pkey(id), 'nw')
  if nw and nw ~= '' then redis.call('SADD', nkey(sid, nw), id) end
  if MODEKEY[mode] then redis.call('ZADD', skey(sid, MODEKEY[mode]), 0, id) end
  if x ~= '' then redis.call('ZADD', XD, x, xmember(sid, id)) end
  local mc = tonumber(ARGV[8])
  redis.call('HSET', ms, id, cjson.encode(
    {m = mode, x = x, ch = '', ck = {}, cc = 0, mc = mc, s = {}, ns = 0, sc = 0}))
  charge(id, mc)
else
  local rec = cjson.decode(raw)
  if rec.m ~= mode then
    if MODEKEY[rec.m] then redis.call('ZREM', skey(sid, MODEKEY[rec.m]), id) end
    if MODEKEY[mode] then redis.call('ZADD', skey(sid, MODEKEY[mode]), 0, id) end
    rec.m = mode
  end
  if rec.x ~= x then
    if rec.x ~= '' then redis.call('ZREM', XD, xmember(sid, id)) end
    if x ~= '' then redis.call('ZADD', XD, x, xmember(sid, id)) end
    rec.x = x
  end
  redis.call('HSET', ms, id, cjson.encode(rec))
end
applyStats(id, cjson.decode(ARGV[9]))
touch(id, ARGV[6])
return 1
""",
    # ARGV: id, swarmID, deadline, now
    "leave": r"""
local id = ARGV[2]
if redis.call('EXISTS', pkey(id)) == 0 then return 0 end
removeMember(id, ARGV[3], ARGV[5])
touch(id, ARGV[4])
return 1
""",
    # ARGV: id, swarmID, chunks, cost, deadline, the chunk-index buckets...
    "setChunks": r"""
local id, sid = ARGV[2], ARGV[3]
if redis.call('EXISTS', pkey(id)) == 0 then return 0 end
local ms = skey(sid, 'ms')
local raw = redis.call('HGET', ms, id)
if not raw then return 0 end
local rec = cjson.decode(raw)
for _, k in ipairs(rec.ck) do redis.call('SREM', skey(sid, k), id) end
local keys = {}
for i = 7, #ARGV do
  keys[#keys + 1] = ARGV[i]
  redis.call('SADD', skey(sid, ARGV[i]), id)
end
local cost = tonumber(ARGV[5])
charge(id, cost - rec.cc)
rec.ch, rec.cc, rec.ck = ARGV[4], cost, keys
redis.call('HSET', ms, id, cjson.encode(rec))
touch(id, ARGV[6])
return 1
""",
    # ARGV: id, deadline (or ''), updates (JSON)
    "keepStats": r"""
local id = ARGV[2]
if redis.call('EXISTS', pkey(id)) == 0 then return 0 end
applyStats(id, cjson.decode(ARGV[4]))
if ARGV[3] ~= '' then touch(id, ARGV[3]) end
return 1
""",
    # ARGV: id, now
    "disconnect": r"""
local st = readPeer(ARGV[2])
if st then removePeer(ARGV[2], ARGV[3]) end
return st or 'null'
""",
    # ARGV: swarmID, provisioned ('1' or '0'), now
    "addSwarm": r"""
local sid, pr, now = ARGV[2], ARGV[3], ARGV[4]
local info = skey(sid, 'i')
if redis.call('EXISTS', info) == 0 then
  redis.call('HSET', info, 'pr', pr, 'es', now)
  redis.call('SADD', SW, sid)
  if pr == '0' then redis.call('ZADD', EM, now, sid) end
  return 1
end
if pr == '1' and redis.call('HGET', info, 'pr') == '0' then
  redis.call('HSET', info, 'pr', '1')
  redis.call('ZREM', EM, sid)
  return 1
end
return 0
""",
    # ARGV: swarmID, now
    "removeSwarm": r"""
local sid = ARGV[2]
if redis.call('EXISTS', skey(sid, 'i')) == 0 then return -1 end
local ids = redis.call('SMEMBERS', skey(sid, 'm'))
for _, id in ipairs(ids) do removeMember(id, sid, ARGV[3]) end
forgetSwarm(sid)
return #ids
""",
    # ARGV: now, now less the empty-swarm lifetime, the most of each kind
    "expire": r"""
local now, cutoff, batch = ARGV[2], ARGV[3], tonumber(ARGV[4])
local peers, members, swarms = {}, {}, {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', DL, '-inf', now, 'LIMIT', 0, batch)) do
  local st = readPeer(id)
  if st then
    peers[#peers + 1] = st
    removePeer(id, now)
  else
    redis.call('ZREM', DL, id)
  end
end
for _, m in ipairs(redis.call('ZRANGEBYSCORE', XD, '-inf', now, 'LIMIT', 0, batch)) do
  redis.call('ZREM', XD, m)
  local pair = cjson.decode(m)
  if removeMember(pair[2], pair[1], now) then members[#members + 1] = m end
end
for _, sid in ipairs(redis.call('ZRANGEBYSCORE', EM, '-inf', cutoff, 'LIMIT', 0, batch)) do
  redis.call('ZREM', EM, sid)
  local info = redis.call('HGET', skey(sid, 'i'), 'pr')
  if info == '0' and redis.call('SCARD', skey(sid, 'm')) == 0 then
    forgetSwarm(sid)
    swarms[#swarms + 1] = cjson.encode(sid)
  end
end
return '[[' .. table.concat(peers, ',') .. '],[' .. table.concat(members, ',') .. '],['
  .. table.concat(swarms, ',') .. ']]'
""",
    # ARGV: PeerID, the holder's token, milliseconds.  The STAT_QUERY poll
    # lease: taken (or renewed by its holder) unless another holds it.
    "lease": r"""
local key = P .. 'q:' .. ARGV[2]
local held = redis.call('GET', key)
if held and held ~= ARGV[3] then return 0 end
redis.call('SET', key, ARGV[3], 'PX', ARGV[4])
return 1
""",
}
