-- Versioned apply of one document's changes, atomically.
--
-- KEYS[1]  the document hash
-- ARGV     n, then n changes, each: version, nset, nincr,
--          nset pairs (field, value) to HSET, nincr pairs (field, delta) to HINCRBY
--
-- A change is applied only when its version is greater than the version the
-- hash holds in field "_v" ("0" when the hash is absent); otherwise it is a
-- duplicate and skipped. Versions are canonical decimal strings, compared as
-- strings (by length, then bytes) so that they stay exact past 2^53, where
-- Lua's numbers round. The sets of all applied changes and the new "_v" go
-- out in one HSET, in order, so a later change's value wins. Returns the
-- number of changes applied.
local function newer(a, b)
  if #a ~= #b then
    return #a > #b
  end
  return a > b
end

local key = KEYS[1]
local cur = redis.call('HGET', key, '_v') or '0'
local sets = {}
local applied = 0
local i = 2
for _ = 1, tonumber(ARGV[1]) do
  local version = ARGV[i]
  local nset = tonumber(ARGV[i + 1])
  local nincr = tonumber(ARGV[i + 2])
  local s = i + 3
  local incrs = s + 2 * nset
  i = incrs + 2 * nincr
  if newer(version, cur) then
    for j = s, incrs - 1 do
      sets[#sets + 1] = ARGV[j]
    end
    for j = incrs, i - 1, 2 do
      redis.call('HINCRBY', key, ARGV[j], ARGV[j + 1])
    end
    cur = version
    applied = applied + 1
  end
end
if applied > 0 then
  sets[#sets + 1] = '_v'
  sets[#sets + 1] = cur
  redis.call('HSET', key, unpack(sets))
end
return applied
