-- wrk script for bench/run.py: at the end of a run, print one line
--   QUARTBLOG_BENCH_JSON {...}
-- with the figures the harness needs, so that it never has to parse wrk's
-- human-readable summary. Times are in microseconds, as wrk measures them.
--
-- Only done() is defined: a request()/response() callback would make wrk call
-- into Lua for every request and slow the load generator down.
-- wrk counts a response as a "status" error when its status is 400 or above;
-- bench/run.py checks each endpoint's status (3xx included) with one probe
-- request before the load.

local function num(x)
   if x == nil or x ~= x or x == math.huge or x == -math.huge then
      return "null"
   end
   return string.format("%.3f", x)
end

done = function(summary, latency, requests)
   local e = summary.errors
   local parts = {
      '"requests":' .. summary.requests,
      '"duration_us":' .. summary.duration,
      '"bytes":' .. summary.bytes,
      '"errors":{"connect":' .. e.connect .. ',"read":' .. e.read ..
         ',"write":' .. e.write .. ',"status":' .. e.status ..
         ',"timeout":' .. e.timeout .. '}',
      '"latency_us":{"min":' .. num(latency.min) .. ',"max":' .. num(latency.max) ..
         ',"mean":' .. num(latency.mean) .. ',"stdev":' .. num(latency.stdev) ..
         ',"p50":' .. num(latency:percentile(50)) ..
         ',"p75":' .. num(latency:percentile(75)) ..
         ',"p90":' .. num(latency:percentile(90)) ..
         ',"p99":' .. num(latency:percentile(99)) ..
         ',"p999":' .. num(latency:percentile(99.9)) .. '}',
   }
   io.write("QUARTBLOG_BENCH_JSON {" .. table.concat(parts, ",") .. "}\n")
end
