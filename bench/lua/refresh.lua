-- Refresh-token rotation: every request spends a different pre-seeded refresh token.
-- wrk -s bench/lua/refresh.lua URL -- TOKENS_FILE THREADS
-- Thread k of n takes lines k, k+n, k+2n, ... of TOKENS_FILE, so no token is sent twice
-- (a second use would be reuse, which revokes the grant). A thread that runs out sends
-- "exhausted", which the server answers 400, so the shortage shows up as errors.

local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

local tokens = {}
local next_index = 1
local warned = false

function init(args)
  local threads = tonumber(args[2])
  local line_no = 0
  for line in io.lines(args[1]) do
    if line_no % threads == id then
      tokens[#tokens + 1] = line
    end
    line_no = line_no + 1
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function request()
  local token = tokens[next_index]
  if token == nil then
    if not warned then
      io.stderr:write("refresh.lua: a thread ran out of refresh tokens\n")
      warned = true
    end
    token = "exhausted"
  end
  next_index = next_index + 1
  return wrk.format(nil, nil, nil, "grant_type=refresh_token&refresh_token=" .. token)
end
