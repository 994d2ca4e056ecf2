-- wrk's request hook for the receiver section's replay: posts the OTLP/HTTP protobuf exports of the file
-- named by REPLAY_EXPORTS (each a 4-byte big-endian length, then the body) in turn, as fast as the receiver
-- answers. Each pass over them gets new trace ids: the first four bytes of every span's trace_id (the span's
-- first field: tag 0x0a, 16 bytes, then span_id's tag 0x12 and 8 bytes) become 0xff and the pass number, so
-- no pass repeats an earlier pass's traces (or the captured originals). wrk_report.lua adds the report.
local function read_exports(path)
  local file = assert(io.open(path, "rb"), "REPLAY_EXPORTS: cannot open " .. tostring(path))
  local data = file:read("*a")
  file:close()
  local bodies, at = {}, 1
  while at + 3 <= #data do
    local a, b, c, d = data:byte(at, at + 3)
    local size = ((a * 256 + b) * 256 + c) * 256 + d
    bodies[#bodies + 1] = data:sub(at + 4, at + 3 + size)
    at = at + 4 + size
  end
  assert(#bodies > 0, "REPLAY_EXPORTS: no exports in " .. path)
  return bodies
end

local bodies = read_exports(os.getenv("REPLAY_EXPORTS"))
local headers = { ["Content-Type"] = "application/x-protobuf" }
local next_body, pass = 0, 0

request = function()
  next_body = next_body + 1
  if next_body > #bodies then
    next_body, pass = 1, pass + 1
  end
  local stamp = string.char(255, math.floor(pass / 65536) % 256, math.floor(pass / 256) % 256, pass % 256)
  local body = bodies[next_body]:gsub("\n\16....(............\18\8)", function(rest)
    return "\n\16" .. stamp .. rest
  end)
  return wrk.format("POST", nil, headers, body)
end

dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "wrk_report.lua")
