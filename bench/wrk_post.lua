-- wrk_post.lua — POST real pins, cycling through a file of request bodies.
-- WRK_BODIES: a file with one request body per line (a pin, or a whole batch as a
-- JSON array on one line). Content-Type is JSON; every body is sent as is.
local bodies = {}
local path = os.getenv("WRK_BODIES")
for line in io.lines(path) do
	if #line > 0 then bodies[#bodies + 1] = line end
end
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

request = function()
	i = i + 1
	return wrk.format(nil, nil, nil, bodies[(i % #bodies) + 1])
end

done = function(summary, latency, requests)
	io.write(string.format("BENCH requests=%d errors_status=%d errors_other=%d duration_us=%d p50_us=%d p99_us=%d\n",
		summary.requests, summary.errors.status,
		summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
		summary.duration, latency:percentile(50), latency:percentile(99)))
end
