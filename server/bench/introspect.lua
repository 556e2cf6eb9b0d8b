-- POST /auth/v2/introspect with Basic credentials (the secret is cached after the
-- first call) and one access token (verified once, then cached).
-- Needs KEYSCOPE_BENCH_AUTH ("Basic ...") and KEYSCOPE_BENCH_TOKEN; see server/README.md.
wrk.method = "POST"
wrk.path = "/auth/v2/introspect"
wrk.headers["Authorization"] = assert(os.getenv("KEYSCOPE_BENCH_AUTH"), "KEYSCOPE_BENCH_AUTH")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "token=" .. assert(os.getenv("KEYSCOPE_BENCH_TOKEN"), "KEYSCOPE_BENCH_TOKEN")

-- With KEYSCOPE_BENCH_CHECK=1 every answer is checked (this costs wrk time, so the
-- numbers in server/README.md are from runs without it, after a checked run).
if os.getenv("KEYSCOPE_BENCH_CHECK") == "1" then
  local bad = 0
  response = function(status, headers, body)
    if status ~= 200 or not body:find('"active":true', 1, true) then
      bad = bad + 1
    end
  end
  done = function(summary, latency, requests)
    io.write(string.format("not active or not 200: %d\n", bad))
  end
end
