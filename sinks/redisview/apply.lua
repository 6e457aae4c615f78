-- Versioned apply of the changes of one or more documents, atomically.
--
-- KEYS     the document hashes, each once
-- ARGV     for each key in turn: n, then that document's n changes, each:
--          version, nset, nincr, nset pairs (field, value) to HSET,
--          nincr pairs (field, delta) to HINCRBY;
--          or, for a document whose n changes the client folded into one
--          write: -n, first, last, nset, nincr, then the pairs as above
--          (first and last are the versions of the first and last change;
--          the sets are the last value of each field, the deltas summed)
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
-- Lua's numbers round. Per document, the sets of all applied changes and the
-- new "_v" go out in HSETs, in order, so a later change's value wins: one
-- HSET for the usual few changes, one per CHUNK values for a burst of them
-- (unpack, and a command called from Lua, take at most about 8,000 values).
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
-- an optional minus sign, within int64 (compared as strings, since Lua's
-- numbers round past 2^53).
local function isInt64(v)
  local neg, digits = string.match(v, '^(%-?)(%d+)$')
  if not digits or (#digits > 1 and string.sub(digits, 1, 1) == '0') then
    return false
  end
  local limit = '9223372036854775807'
  if neg == '-' then
    limit = '9223372036854775808'
  end
  return #digits < #limit or (#digits == #limit and digits <= limit)
end

-- counterError returns why HINCRBY would refuse one of fields in key's
-- hash (a value that is not an int64), or nil.
local function counterError(key, fields)
  if #fields == 0 then
    return nil
  end
  local vals = redis.call('HMGET', key, unpack(fields))
  for f = 1, #fields do
    local v = vals[f]
    if v and not isInt64(v) then
      return 'counter field ' .. fields[f] .. ' holds ' .. string.sub(v, 1, 40) .. ', not an integer HINCRBY can add to'
    end
  end
  return nil
end

-- badCounter is counterError for the counter fields that the n changes
-- from ARGV[i] increment.
local function badCounter(key, i, n)
  local fields = {}
  for _ = 1, n do
    local nset = tonumber(ARGV[i + 1])
    local nincr = tonumber(ARGV[i + 2])
    local incrs = i + 3 + 2 * nset
    for j = incrs, incrs + 2 * nincr - 1, 2 do
      fields[#fields + 1] = ARGV[j]
    end
    i = incrs + 2 * nincr
  end
  return counterError(key, fields)
end

-- badFolded is counterError for a folded write's increments, the pairs in
-- ARGV[from..to-1].
local function badFolded(key, from, to)
  local fields = {}
  for j = from, to - 1, 2 do
    fields[#fields + 1] = ARGV[j]
  end
  return counterError(key, fields)
end

local total = 0
local failed = nil
local i = 1
for k = 1, #KEYS do
  local key = KEYS[k]
  local cur = redis.pcall('HGET', key, '_v')
  local n = tonumber(ARGV[i])
  i = i + 1
  if n < 0 then
    -- A folded write: one guarded write of -n changes.
    local first, last = ARGV[i], ARGV[i + 1]
    local nset = tonumber(ARGV[i + 2])
    local nincr = tonumber(ARGV[i + 3])
    local s = i + 4
    local incrs = s + 2 * nset
    i = incrs + 2 * nincr
    local why = nil
    if type(cur) == 'table' then
      why = cur.err or 'error'
    else
      why = badFolded(key, incrs, i)
    end
    if why then
      failed = failed or {}
      failed[#failed + 1] = k
      failed[#failed + 1] = why
    else
      cur = cur or '0'
      if newer(first, cur) then
        for j = incrs, i - 1, 2 do
          redis.call('HINCRBY', key, ARGV[j], ARGV[j + 1])
        end
        -- The sets in HSETs of at most CHUNK values, the version last.
        local j = s
        while incrs - j > CHUNK do
          redis.call('HSET', key, unpack(ARGV, j, j + CHUNK - 1))
          j = j + CHUNK
        end
        redis.call('HSET', key, '_v', last, unpack(ARGV, j, incrs - 1))
        total = total - n
      elseif newer(last, cur) then
        failed = failed or {}
        failed[#failed + 1] = -k
        failed[#failed + 1] = 'unfold'
      end
    end
    n = 0
  else
    local why = nil
    if type(cur) == 'table' then
      -- HGET failed (WRONGTYPE).
      why = cur.err or 'error'
    else
      why = badCounter(key, i, n)
    end
    if why then
      -- Skip the document's changes: nothing of it is written.
      failed = failed or {}
      failed[#failed + 1] = k
      failed[#failed + 1] = why
      for _ = 1, n do
        i = i + 3 + 2 * tonumber(ARGV[i + 1]) + 2 * tonumber(ARGV[i + 2])
      end
      n = 0
    end
  end
  cur = cur or '0'
  if n == 1 then
    -- The common case, one change: no table, the arguments go straight out
    -- (unless the change alone sets more than CHUNK values).
    local version = ARGV[i]
    local nset = tonumber(ARGV[i + 1])
    if 2 * nset <= CHUNK then
      local nincr = tonumber(ARGV[i + 2])
      local s = i + 3
      local incrs = s + 2 * nset
      i = incrs + 2 * nincr
      if newer(version, cur) then
        for j = incrs, i - 1, 2 do
          redis.call('HINCRBY', key, ARGV[j], ARGV[j + 1])
        end
        redis.call('HSET', key, '_v', version, unpack(ARGV, s, incrs - 1))
        total = total + 1
      end
      n = 0
    end
  end
  -- sets[1..m] are the values not yet written; the table is reused after
  -- each HSET of CHUNK values, so only 1..m count.
  local sets = {}
  local m = 0
  local applied = 0
  for _ = 1, n do
    local version = ARGV[i]
    local nset = tonumber(ARGV[i + 1])
    local nincr = tonumber(ARGV[i + 2])
    local s = i + 3
    local incrs = s + 2 * nset
    i = incrs + 2 * nincr
    if newer(version, cur) then
      for j = s, incrs - 1 do
        m = m + 1
        sets[m] = ARGV[j]
        if m == CHUNK then
          redis.call('HSET', key, unpack(sets, 1, m))
          m = 0
        end
      end
      for j = incrs, i - 1, 2 do
        redis.call('HINCRBY', key, ARGV[j], ARGV[j + 1])
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
if failed then
  table.insert(failed, 1, total)
  return failed
end
return total
