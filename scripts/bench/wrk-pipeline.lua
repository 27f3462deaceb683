-- wrk script: the seed workload, pipelined. Every write carries DEPTH requests (wrk counts the
-- requests in what request() returns once, at start, and then expects that many answers per
-- write): in each batch 80% `GET /<random key>` and 20% `POST /<random key>` with a decimal
-- body, in random order, keys uniform in [0, KEYS). Batches are built in init() (a pool of POOL
-- of them, cycled) so that wrk spends its time on the network, not in Lua.
--
--   wrk -t1 -c20 -d10s -s scripts/bench/wrk-pipeline.lua http://127.0.0.1:8081 -- [DEPTH] [KEYS] [POOL]
--
-- DEPTH defaults to 10 (must be a multiple of 5 for an exact 80/20 split; otherwise the POSTs
-- are DEPTH // 5), KEYS to 1000000, POOL to 4096.

local batches = {}
local next_batch = 1

function init(args)
  local depth = tonumber(args[1]) or 10
  local keys = tonumber(args[2]) or 1000000
  local pool = tonumber(args[3]) or 4096
  local posts = math.floor(depth / 5)
  -- a different stream per thread
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
  for b = 1, pool do
    local kinds = {}
    for i = 1, depth do kinds[i] = i <= posts end
    for i = depth, 2, -1 do  -- shuffle
      local j = math.random(i)
      kinds[i], kinds[j] = kinds[j], kinds[i]
    end
    local reqs = {}
    for i = 1, depth do
      local key = "/" .. math.random(0, keys - 1)
      if kinds[i] then
        reqs[i] = wrk.format("POST", key, nil, tostring(math.random(0, keys - 1)))
      else
        reqs[i] = wrk.format("GET", key)
      end
    end
    batches[b] = table.concat(reqs)
  end
end

function request()
  local r = batches[next_batch]
  next_batch = next_batch % #batches + 1
  return r
end
