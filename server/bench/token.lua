-- POST /auth/v2/token, the client-credentials grant with Basic credentials: after the
-- first exchange the secret is cached (no Argon2); each answer is a newly signed token.
-- Needs KEYSCOPE_BENCH_AUTH ("Basic ..."); see server/README.md.
wrk.method = "POST"
wrk.path = "/auth/v2/token"
wrk.headers["Authorization"] = assert(os.getenv("KEYSCOPE_BENCH_AUTH"), "KEYSCOPE_BENCH_AUTH")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=client_credentials"

-- With KEYSCOPE_BENCH_CHECK=1 every answer is checked (this costs wrk time, so the
-- numbers in server/README.md are from runs without it, after a checked run).
if os.getenv("KEYSCOPE_BENCH_CHECK") == "1" then
  local bad = 0
  response = function(status, headers, body)
    if status ~= 200 then
      bad = bad + 1
    end
  end
  done = function(summary, latency, requests)
    io.write(string.format("not 200: %d\n", bad))
  end
end
