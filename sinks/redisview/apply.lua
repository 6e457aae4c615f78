-- Versioned apply of the changes of one or more documents, atomically.
--
-- KEYS     the document hashes, each once
-- ARGV     for each key in turn: n, then that document's n changes, each:
--          version, nset, nincr, nset pairs (field, value) to HSET, the
--          nincr counter field names, then their nincr deltas to add
--          (HINCRBY);
--          or, for a document whose n changes the client folded into one
--          write: -n, first, then one change as above whose version is
--          last (first and last are the versions of the first and last
--          change; the sets are the last value of each field, the deltas
--          summed)
--
-- A folded write is all or nothing: when the hash's version is older than
-- first, every change is newer and the write applies whole (n applied);
-- when it is not older than last, every change is a duplicate. In between
-- (a redelivery of part of the changes) the fold cannot say which of its
-- values are new: the document is skipped, untouched, and named in the
-- reply, for the client to send its changes again one by one.
--
-- A change is applied only when its version is greater than the version the
-- hash holds in field "_v" ("0" when the hash is absent); otherwise it is a
-- duplicate and skipped. Versions are canonical decimal strings, compared as
-- strings (by length, then bytes) so that they stay exact past 2^53, where
-- Lua's numbers round.
--
-- What Redis spends is mostly the commands called from here, so a document
-- of one change or one folded write costs two: one HMGET reads the version
-- and the counter fields at once (to check them before any write), and one
-- HSET writes the counters' new values (the values read plus the deltas,
-- added here when both are small enough to stay exact as Lua numbers;
-- HINCRBY otherwise), then the sets, then "_v", so that a set wins over an
-- increment of the same field, as HINCRBY-then-HSET would. A document of
-- several unfolded changes (a redelivery, versions that do not ascend)
-- goes the long way: HINCRBY per counter, the sets of all applied changes
-- and the new "_v" in HSETs, in order, so a later change's value wins; one
-- HSET per CHUNK values for a burst of them (unpack, and a command called
-- from Lua, take at most about 8,000 values).
--
-- Returns the number of changes applied, over all documents; when the hash of
-- some document cannot be read (a key of another type holds its place), a
-- counter field its changes increment holds what HINCRBY refuses (not an
-- int64), or a folded write meets a version between its first and last,
-- that document is skipped whole, before any of its writes, and the reply
-- is an array instead: the number applied, then for
-- each skipped document its position in KEYS and the error (the position
-- negated, and "unfold", for a folded write to send again unfolded).
local function newer(a, b)
  if #a ~= #b then
    return #a > #b
  end
  return a > b
end

-- CHUNK is the most values one HSET of the sets takes: even (field, value
-- pairs), far below Lua's limit, and large enough that a burst pays one
-- HSET per hundreds of changes.
local CHUNK = 1000

-- isInt64 reports whether v is a decimal integer HINCRBY reads: digits with
-- an optional minus sign, within int64, no leading zero and no "-0"
-- (compared as strings, since Lua's numbers round past 2^53).
local function isInt64(v)
  local neg, digits = string.match(v, '^(%-?)(%d+)$')
  if not digits or (#digits > 1 and string.sub(digits, 1, 1) == '0') then
    return false
  end
  local limit = '9223372036854775807'
  if neg == '-' then
    if digits == '0' then
      return false
    end
    limit = '9223372036854775808'
  end
  return #digits < #limit or (#digits == #limit and digits <= limit)
end

-- counterError returns why HINCRBY would refuse the counter field
-- names[f] (vals[f + 1], HMGET's reply with the version first), or nil.
local function counterError(vals, names)
  for f = 1, #names do
    local v = vals[f + 1]
    if v and not isInt64(v) then
      return 'counter field ' .. names[f] .. ' holds ' .. string.sub(v, 1, 40) .. ', not an integer HINCRBY can add to'
    end
  end
  return nil
end

-- argCounterError is counterError for the nincr counter names at
-- ARGV[names..].
local function argCounterError(vals, names, nincr)
  for f = 1, nincr do
    local v = vals[f + 1]
    if v and not isInt64(v) then
      return 'counter field ' .. ARGV[names + f - 1] .. ' holds ' .. string.sub(v, 1, 40) .. ', not an integer HINCRBY can add to'
    end
  end
  return nil
end

-- sum is the counter value v (a checked int64, false when absent) plus the
-- delta d, as HINCRBY would store it; nil when either has more than 15
-- characters, where the sum could pass 2^53 and a Lua number round it.
local function sum(v, d)
  v = v or '0'
  if #v > 15 or #d > 15 then
    return nil
  end
  return string.format('%.0f', tonumber(v) + tonumber(d))
end

-- write applies one change (or folded write) to key: the counters whose
-- names are ARGV[names..names+nincr-1] (current values vals[2..], deltas
-- after the names), then the sets ARGV[s..names-1], then version.
local function write(key, version, s, names, nincr, vals)
  local e = names - 1
  if e - s < CHUNK then
    if nincr == 0 then
      redis.call('HSET', key, '_v', version, unpack(ARGV, s, e))
      return
    elseif nincr == 1 then
      local c = sum(vals[2], ARGV[names + 1])
      if c then
        redis.call('HSET', key, ARGV[names], c, '_v', version, unpack(ARGV, s, e))
        return
      end
    elseif nincr == 2 and ARGV[names] ~= ARGV[names + 1] then
      local c1 = sum(vals[2], ARGV[names + 2])
      local c2 = sum(vals[3], ARGV[names + 3])
      if c1 and c2 then
        redis.call('HSET', key, ARGV[names], c1, ARGV[names + 1], c2, '_v', version, unpack(ARGV, s, e))
        return
      end
    end
  end
  -- Large counters, a field incremented twice, more than two counters or
  -- a burst of sets: HINCRBYs, then the sets in HSETs of at most CHUNK
  -- values, the version last.
  for f = names, names + nincr - 1 do
    redis.call('HINCRBY', key, ARGV[f], ARGV[f + nincr])
  end
  local j = s
  while e + 1 - j > CHUNK do
    redis.call('HSET', key, unpack(ARGV, j, j + CHUNK - 1))
    j = j + CHUNK
  end
  redis.call('HSET', key, '_v', version, unpack(ARGV, j, e))
end

local total = 0
local failed = nil
local i = 1
for k = 1, #KEYS do
  local key = KEYS[k]
  local n = tonumber(ARGV[i])
  i = i + 1
  local first = nil
  if n < 0 then
    first = ARGV[i]
    i = i + 1
    n = -n
  end
  if first or n == 1 then
    -- One write: one change, or a folded write from first to its version.
    local version = ARGV[i]
    local nset = tonumber(ARGV[i + 1])
    local nincr = tonumber(ARGV[i + 2])
    local s = i + 3
    local names = s + 2 * nset
    i = names + 2 * nincr
    local vals = redis.pcall('HMGET', key, '_v', unpack(ARGV, names, names + nincr - 1))
    -- HMGET failed (WRONGTYPE), or a counter HINCRBY would refuse.
    local why = vals.err or argCounterError(vals, names, nincr)
    if why then
      failed = failed or {}
      failed[#failed + 1] = k
      failed[#failed + 1] = why
    else
      local cur = vals[1] or '0'
      if newer(first or version, cur) then
        write(key, version, s, names, nincr, vals)
        total = total + n
      elseif first and newer(version, cur) then
        failed = failed or {}
        failed[#failed + 1] = -k
        failed[#failed + 1] = 'unfold'
      end
    end
  else
    -- Several changes, one by one. The version and every counter field
    -- first, in one HMGET.
    local fields = { '_v' }
    local j = i
    for _ = 1, n do
      local nset = tonumber(ARGV[j + 1])
      local nincr = tonumber(ARGV[j + 2])
      local names = j + 3 + 2 * nset
      for f = names, names + nincr - 1 do
        fields[#fields + 1] = ARGV[f]
      end
      j = names + 2 * nincr
    end
    local vals = redis.pcall('HMGET', key, unpack(fields))
    local why = vals.err
    if not why then
      table.remove(fields, 1)
      why = counterError(vals, fields)
    end
    if why then
      -- Skip the document's changes: nothing of it is written.
      failed = failed or {}
      failed[#failed + 1] = k
      failed[#failed + 1] = why
      i = j
    else
      local cur = vals[1] or '0'
      -- sets[1..m] are the values not yet written; the table is reused
      -- after each HSET of CHUNK values, so only 1..m count.
      local sets = {}
      local m = 0
      local applied = 0
      for _ = 1, n do
        local version = ARGV[i]
        local nset = tonumber(ARGV[i + 1])
        local nincr = tonumber(ARGV[i + 2])
        local s = i + 3
        local names = s + 2 * nset
        i = names + 2 * nincr
        if newer(version, cur) then
          for f = s, names - 1 do
            m = m + 1
            sets[m] = ARGV[f]
            if m == CHUNK then
              redis.call('HSET', key, unpack(sets, 1, m))
              m = 0
            end
          end
          for f = names, names + nincr - 1 do
            redis.call('HINCRBY', key, ARGV[f], ARGV[f + nincr])
          end
          cur = version
          applied = applied + 1
        end
      end
      if applied > 0 then
        sets[m + 1] = '_v'
        sets[m + 2] = cur
        redis.call('HSET', key, unpack(sets, 1, m + 2))
      end
      total = total + applied
    end
  end
end
if failed then
  table.insert(failed, 1, total)
  return failed
end
return total
