-- POST one fixed form body to the URL's path on every request.
-- wrk -s bench/lua/post.lua URL -- 'grant_type=client_credentials'
-- Headers given with -H (Authorization) are kept.

local request_text

function init(args)
  wrk.method = "POST"
  wrk.body = args[1]
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  request_text = wrk.format()
end

function request()
  return request_text
end
