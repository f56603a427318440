-- hasentinel.lua: the half of hasentinel that runs inside HAProxy 2.6 (Lua 5.3).
--
-- It never decides who the master is and never changes a server: the agent
-- is the only writer of server state. This file only reads what the agent has
-- made true, and:
--
--   lua.hs_hold BACKEND LIMIT_MS   (tcp-request content action)
--       Holds a new connection while BACKEND has no usable server (backup
--       servers do not count: they are the hold's own loop, see
--       haproxy.cfg), looking again every 2 ms without blocking HAProxy (it
--       yields), and lets it proceed as soon as a server the agent made
--       ready is usable. It sets the variable txn.hs_hold to "wait" when it
--       starts holding and to "ok" when it lets the connection go to such a
--       server; haproxy.cfg rejects a connection still at "wait" (the limit
--       LIMIT_MS passed, or the client went away). With a usable server the
--       action returns at once and sets nothing. When it held, txn.hs_hold_ms
--       says how long (ms), for the log line.
--
--   lua.hs_tick                    (tcp service, on HS_TICK_SOCKET)
--       The clock of the hold: sends one byte every 2 ms to each held
--       connection's socket (see "Why a ticker" below).
--
--   lua.hasentinel                 (http service)
--       /hasentinel       the agent's view as one self-contained HTML page
--       /hasentinel.json  the agent's status JSON, as the agent sent it
--       It asks the agent's status socket (HS_AGENT_SOCKET) with a connect
--       and read deadline and a size limit; any failure gives a page that
--       says what went wrong. Read-only.
--
-- Settings come from the environment (haproxy.cfg's presetenv), read once
-- when the file is loaded:
--   HS_AGENT_SOCKET   the agent's status socket       (/run/hasentinel/hasentinel.sock)
--   HS_PLACEHOLDER    address of an empty slot        (127.0.0.1:1)
--   HS_TICK_SOCKET    the hs_tick service's unix socket (none: core.msleep only)
--
-- The JSON decoder below is strict (RFC 8259, no extensions) and bounded in
-- depth; tests/lua/test_hasentinel.lua tests it with lua5.3.

local hs = {}

-- ------------------------------------------------------------ settings

hs.agent_socket = os.getenv("HS_AGENT_SOCKET") or "/run/hasentinel/hasentinel.sock"
hs.placeholder = os.getenv("HS_PLACEHOLDER") or "127.0.0.1:1"
-- Why a ticker. In a tcp-request action, HAProxy 2.6 computes the wake-up
-- of core.msleep(n) from the time of the scheduler pass, and drops it when
-- it has already passed by the time the coroutine yields (the clock is
-- updated then). The stream then sleeps until the inspect-delay. Measured
-- with 2.6.12: with msleep(1), lost after 10 to 45 sleeps; with msleep(2),
-- none lost on an idle machine, but a held connection missed its release
-- on a loaded one (load 22). A socket read is woken by an event instead of
-- a timer, which is never lost; and timers of services and tasks are not
-- dropped either. So a held connection reads one byte at a time from its
-- own connection to lua.hs_tick, which sends one every poll_ms. Without
-- HS_TICK_SOCKET (or when it cannot be reached) the hold falls back to
-- msleep, and the inspect-delay (= the hold limit) still ends it on time.
hs.poll_ms = 2
hs.tick_socket = os.getenv("HS_TICK_SOCKET")
hs.agent_timeout_s = 2         -- connect, and between two bytes of the answer
hs.agent_deadline_ms = 3000    -- the whole exchange with the agent
hs.agent_max_bytes = 2 * 1024 * 1024
hs.json_max_depth = 64

-- core is HAProxy's; absent when the file is loaded by the unit test.
local core = core   -- luacheck: ignore 113

-- ------------------------------------------------------------ helpers

local function now_ms()
	local t = core.now()
	return t.sec * 1000 + t.usec // 1000
end

-- One warning per cause (key) for the life of the process (per thread).
local warned = {}
local function warn_once(key, msg)
	if warned[key] then
		return
	end
	warned[key] = true
	core.Warning("hasentinel.lua: " .. msg)
end

-- ------------------------------------------------------------ hold

-- Status strings of a server HAProxy routes to (Server:get_stats().status):
-- "UP", "no check" (no health check), "UP 1/2" (going down, still routed).
-- Everything else (MAINT, DRAIN, DOWN, NOLB, MAINT(via)) is not usable.
local function status_usable(st)
	return st == "UP" or st == "no check" or (type(st) == "string" and st:sub(1, 3) == "UP ")
end

-- The slots of each backend, looked up once (they are fixed by the
-- configuration: server-template). Backup servers are not slots: in the
-- write backend they are the hold's loop back into HAProxy (haproxy.cfg),
-- never a Redis server, and the agent leaves them alone too.
local servers_of = {}
local function backend_servers(name)
	local list = servers_of[name]
	if list then
		return list
	end
	local be = core.backends[name]
	if not be then
		return nil
	end
	list = {}
	for sname, srv in pairs(be.servers) do
		local st = srv:get_stats()
		if not (st and tonumber(st.bck) == 1) then
			list[#list + 1] = { name = sname, srv = srv }
		end
	end
	table.sort(list, function(a, b) return a.name < b.name end)
	servers_of[name] = list
	return list
end

-- f(name), remembered per backend for the current millisecond (per
-- thread): when a master is readied every held connection asks within the
-- same few milliseconds, and the answers cost get_stats calls (a table of
-- some 100 fields each).
local function per_ms(cache, name, f)
	local now = now_ms()
	local c = cache[name]
	if not c then
		c = {}
		cache[name] = c
	elseif c.at == now then
		return c.v
	end
	c.at = now
	c.v = f(name)
	return c.v
end

-- Usable servers of backend `name` that are not backups: HAProxy's own
-- count (the "act" field of the backend's stats). `nbsrv` cannot tell:
-- with no active server it counts the usable backups. Every held
-- connection asks every 2 ms.
local function count_active(name)
	local be = core.backends[name]
	local st = be and be:get_stats()
	return st and tonumber(st.act) or 0
end
local active_cache = {}
function hs.active_servers(name)
	return per_ms(active_cache, name, count_active)
end

-- True when every slot HAProxy may route to in backend `name` has a real
-- address (one the agent set: not the placeholder of an empty slot) and
-- there is at least one. Only asked when a held connection is about to be
-- released, never on the fast path.
function hs.ready_with_address(name)
	local list = backend_servers(name)
	if not list then
		return false
	end
	local n = 0
	for _, e in ipairs(list) do
		local srv = e.srv
		local st = srv:get_stats()
		if st and status_usable(st.status) then
			if srv:get_addr() == hs.placeholder then
				return false
			end
			n = n + 1
		end
	end
	return n > 0
end

-- Whether a held connection may go now: a usable slot, and every usable
-- slot at an address the agent set. ready_with_address calls get_stats on
-- every slot: uncached, 21 held connections were let go one after the
-- other, the last 12 ms after HAProxy's acknowledgement.
local function release_now(name)
	return hs.active_servers(name) > 0 and hs.ready_with_address(name)
end
local release_cache = {}
function hs.may_release(name)
	return per_ms(release_cache, name, release_now)
end

-- Validated settings of each hs_hold rule, by its arguments.
local hold_args = {}
local function hold_settings(backend, limit)
	local key = tostring(backend) .. "\0" .. tostring(limit)
	local s = hold_args[key]
	if s then
		return s
	end
	local ms = math.tointeger(tonumber(limit))
	if not ms or ms < 0 then
		warn_once("limit " .. key, string.format("hs_hold: bad limit '%s': holding 0 ms", tostring(limit)))
		ms = 0
	end
	if not core.backends[backend] then
		warn_once("backend " .. key, string.format("hs_hold: no backend '%s': not holding", tostring(backend)))
		ms = 0
	end
	s = { backend = backend, limit_ms = ms }
	hold_args[key] = s
	return s
end

-- A connection to the ticker, or nil (then the caller sleeps instead).
local function tick_open()
	if not hs.tick_socket or hs.tick_socket == "" then
		return nil
	end
	local sock = core.tcp()
	sock:settimeout(1)
	local ok, err = sock:connect("unix@" .. hs.tick_socket)
	if not ok then
		warn_once("tick", string.format("hs_hold: cannot reach hs_tick on %s (%s): holding with core.msleep",
			hs.tick_socket, tostring(err)))
		sock:close()
		return nil
	end
	return sock
end

-- Wait about poll_ms: a byte from the ticker, or a sleep. Returns the
-- socket to use next time (nil once the ticker is gone).
local function tick_wait(sock)
	if sock then
		if sock:receive(1) then
			return sock
		end
		sock:close()
	end
	core.msleep(hs.poll_ms)
	return nil
end

function hs.hold(txn, backend, limit)
	-- Fast path: a usable server, the connection proceeds untouched.
	if hs.active_servers(backend) > 0 then
		return
	end
	txn:set_var("txn.hs_hold", "wait")
	local s = hold_settings(backend, limit)
	if s.limit_ms == 0 then
		return
	end
	local t0 = now_ms()
	local deadline = t0 + s.limit_ms
	local sock = tick_open()
	while true do
		-- The client went away or filled the buffer: stop holding (a
		-- yield would not be allowed any more).
		if not txn.req:may_recv() then
			break
		end
		sock = tick_wait(sock)
		if hs.may_release(backend) then
			txn:set_var("txn.hs_hold", "ok")
			break
		end
		if now_ms() >= deadline then
			break
		end
	end
	if sock then
		sock:close()
	end
	-- How long it was held, for the log line (haproxy.cfg's log-format).
	txn:set_var("txn.hs_hold_ms", now_ms() - t0)
end

-- The ticker: one byte every poll_ms to each connected held connection,
-- until it closes.
function hs.tick(applet)
	while true do
		applet:send("t")
		core.msleep(hs.poll_ms)
	end
end


-- ------------------------------------------------------------ JSON

-- A strict JSON decoder (RFC 8259): one value, optional whitespace around
-- it, nothing else. Objects become tables, arrays become tables with n =
-- their length, null becomes hs.null. Numbers are Lua integers when they are
-- integers that fit, floats otherwise. Depth is bounded. Returns the value,
-- or nil and a message with the byte offset.
hs.null = setmetatable({}, { __tostring = function() return "null" end })
-- Arrays carry this metatable (and n), so that hs.json_encode tells them
-- from objects.
hs.array_mt = {}

local json_escapes = {
	['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t",
}

local json_escapes_out = {
	['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
}

local function utf8_of(cp)
	return utf8.char(cp)
end

function hs.json_decode(str, max_depth)
	if type(str) ~= "string" then
		return nil, "not a string"
	end
	max_depth = max_depth or hs.json_max_depth
	local pos = 1
	local len = #str

	local function fail(msg)
		error({ json = string.format("%s at byte %d", msg, pos) }, 0)
	end

	local function skip_ws()
		pos = str:find("[^ \t\r\n]", pos) or len + 1
	end

	local value

	local function parse_string()
		-- pos is at the opening quote
		pos = pos + 1
		local buf = {}
		while true do
			local s, e = str:find('^[^"\\%c]*', pos)
			if e >= s then
				buf[#buf + 1] = str:sub(s, e)
			end
			pos = e + 1
			local c = str:sub(pos, pos)
			if c == '"' then
				pos = pos + 1
				break
			elseif c == "\\" then
				local n = str:sub(pos + 1, pos + 1)
				if json_escapes[n] then
					buf[#buf + 1] = json_escapes[n]
					pos = pos + 2
				elseif n == "u" then
					local hex = str:match("^%x%x%x%x", pos + 2)
					if not hex then
						fail("bad \\u escape")
					end
					local cp = tonumber(hex, 16)
					pos = pos + 6
					if cp >= 0xD800 and cp <= 0xDBFF then
						local lo = str:match("^\\u(%x%x%x%x)", pos)
						lo = lo and tonumber(lo, 16)
						if not lo or lo < 0xDC00 or lo > 0xDFFF then
							fail("lone high surrogate")
						end
						cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
						pos = pos + 6
					elseif cp >= 0xDC00 and cp <= 0xDFFF then
						fail("lone low surrogate")
					end
					buf[#buf + 1] = utf8_of(cp)
				else
					fail("bad escape")
				end
			elseif c == "" then
				fail("unterminated string")
			else
				fail("control character in string")
			end
		end
		local out = table.concat(buf)
		if not utf8.len(out) then
			fail("invalid UTF-8 in string")
		end
		return out
	end

	local function parse_number()
		local num = str:match("^-?0[.eE]?", pos) and str:match("^-?0", pos) or str:match("^-?[1-9]%d*", pos)
		if not num then
			fail("bad number")
		end
		local s = pos
		pos = pos + #num
		local frac = str:match("^%.%d+", pos)
		if str:sub(pos, pos) == "." and not frac then
			fail("bad fraction")
		end
		if frac then
			pos = pos + #frac
		end
		local exp = str:match("^[eE][-+]?%d+", pos)
		if str:match("^[eE]", pos) and not exp then
			fail("bad exponent")
		end
		if exp then
			pos = pos + #exp
		end
		local text = str:sub(s, pos - 1)
		if not frac and not exp then
			local i = math.tointeger(tonumber(text))
			if i and tostring(i) == text then
				return i
			end
		end
		return tonumber(text) + 0.0
	end

	local function parse_array(depth)
		pos = pos + 1
		local arr = setmetatable({ n = 0 }, hs.array_mt)
		skip_ws()
		if str:sub(pos, pos) == "]" then
			pos = pos + 1
			return arr
		end
		while true do
			local v = value(depth)
			arr.n = arr.n + 1
			arr[arr.n] = v
			skip_ws()
			local c = str:sub(pos, pos)
			pos = pos + 1
			if c == "]" then
				return arr
			elseif c ~= "," then
				pos = pos - 1
				fail("expected , or ]")
			end
		end
	end

	local function parse_object(depth)
		pos = pos + 1
		local obj = {}
		skip_ws()
		if str:sub(pos, pos) == "}" then
			pos = pos + 1
			return obj
		end
		while true do
			skip_ws()
			if str:sub(pos, pos) ~= '"' then
				fail("expected a key")
			end
			local k = parse_string()
			skip_ws()
			if str:sub(pos, pos) ~= ":" then
				fail("expected :")
			end
			pos = pos + 1
			obj[k] = value(depth)
			skip_ws()
			local c = str:sub(pos, pos)
			pos = pos + 1
			if c == "}" then
				return obj
			elseif c ~= "," then
				pos = pos - 1
				fail("expected , or }")
			end
		end
	end

	value = function(depth)
		skip_ws()
		local c = str:sub(pos, pos)
		if (c == "{" or c == "[") and depth >= max_depth then
			fail("nested too deep")
		end
		if c == "{" then
			return parse_object(depth + 1)
		elseif c == "[" then
			return parse_array(depth + 1)
		elseif c == '"' then
			return parse_string()
		elseif c == "-" or c:match("%d") then
			return parse_number()
		elseif str:sub(pos, pos + 3) == "true" then
			pos = pos + 4
			return true
		elseif str:sub(pos, pos + 4) == "false" then
			pos = pos + 5
			return false
		elseif str:sub(pos, pos + 3) == "null" then
			pos = pos + 4
			return hs.null
		elseif c == "" then
			fail("unexpected end")
		end
		fail("unexpected character")
	end

	local ok, res = pcall(function()
		local v = value(0)
		skip_ws()
		if pos <= len then
			fail("trailing data")
		end
		return v
	end)
	if ok then
		return res
	end
	if type(res) == "table" and res.json then
		return nil, res.json
	end
	return nil, tostring(res)
end

-- The inverse, for /hasentinel.json: decoded values back to JSON (object
-- keys sorted; integers as integers; a float that is not finite as null).
local function json_str(v)
	return '"' .. v:gsub('[%c"\\]', function(c)
		return json_escapes_out[c] or string.format("\\u%04x", c:byte())
	end) .. '"'
end

function hs.json_encode(v, depth)
	depth = depth or 0
	if depth > hs.json_max_depth then
		error("nested too deep")
	end
	local t = type(v)
	if v == nil or v == hs.null then
		return "null"
	elseif t == "boolean" then
		return v and "true" or "false"
	elseif math.type(v) == "integer" then
		return string.format("%d", v)
	elseif t == "number" then
		if v ~= v or v == math.huge or v == -math.huge then
			return "null"
		end
		return string.format("%.17g", v)
	elseif t == "string" then
		return json_str(v)
	elseif t == "table" and getmetatable(v) == hs.array_mt then
		local out = {}
		for i = 1, v.n or #v do
			out[i] = hs.json_encode(v[i], depth + 1)
		end
		return "[" .. table.concat(out, ",") .. "]"
	elseif t == "table" then
		local keys = {}
		for k in pairs(v) do
			keys[#keys + 1] = tostring(k)
		end
		table.sort(keys)
		local out = {}
		for i, k in ipairs(keys) do
			out[i] = json_str(k) .. ":" .. hs.json_encode(v[k], depth + 1)
		end
		return "{" .. table.concat(out, ",") .. "}"
	end
	error("cannot encode a " .. t)
end

-- ------------------------------------------------------------ agent socket

-- A decoded JSON array (or nothing).
local function list(v)
	if type(v) ~= "table" or v == hs.null then
		return {}
	end
	return v
end

-- Integers only (the agent sends no fractions); anything else is shown as
-- missing rather than breaking a format.
local function num(v)
	return math.type(v) == "integer" and v or nil
end


-- Ask the agent for what the page shows. Measured with HAProxy 2.6.12: a Lua
-- socket gets what fits in its first buffer (16 kB) at once, but once that
-- is consumed, HAProxy refills it only when the socket's stream wakes up on
-- its timeout (settimeout): one buffer per timeout, so a 60 kB answer took
-- 3 x 5 s with a 5 s timeout, whatever the receive sizes or patterns
-- ("*l" also fails outright on a line longer than the buffer). So the page
-- never asks for more than a buffer on one connection: "page FROM" answers
-- the status with as many master groups from FROM on as fit in about 12 kB
-- (at least one), where the next part starts and how many there are, and
-- the agent closes the connection after it; the page asks again, on a new
-- connection, until it has every group (1000 groups: about 80 parts, a few
-- ms each).
--
-- One part is read in blocks, so that a peer that trickles bytes cannot hold
-- the read past the deadline: blocks start at 16 bytes and grow only while
-- each one arrives within 50 ms (a trickle of one byte every 2 s holds a
-- block read at most 16 x 2 s; a peer that first sends fast, then trickles,
-- up to 1024 x 2 s: the socket is the agent's, writable only by its group);
-- the last, short block ends at the close. Bounds: hs.agent_timeout_s to
-- connect and between two bytes; hs.agent_deadline_ms for all the parts,
-- checked after each block; hs.agent_max_bytes for all of them.
hs.read_block_min = 16
hs.read_block_max = 1024

-- One request on a new connection; its answer (one line), or nil and an
-- error message. state = { start = ms, got = bytes so far }.
local function agent_request(path, req, state)
	local sock = core.tcp()
	sock:settimeout(hs.agent_timeout_s)
	local ok, err = sock:connect("unix@" .. path)
	if not ok then
		sock:close()
		return nil, string.format("cannot connect to the agent's status socket %s: %s", path, tostring(err))
	end
	if not sock:send(req) then
		sock:close()
		return nil, "the agent's status socket closed the connection"
	end
	local block = hs.read_block_min
	local parts, got = {}, 0
	while true do
		local before = now_ms()
		local chunk, rerr, partial = sock:receive(block)
		chunk = chunk or partial
		if chunk and chunk ~= "" then
			parts[#parts + 1] = chunk
			got = got + #chunk
			state.got = state.got + #chunk
			if chunk:find("\n", 1, true) then
				break
			end
		end
		if not chunk or #chunk < block then
			-- closed (or failed) before the end of the line
			sock:close()
			if got == 0 then
				return nil, "no answer from the agent's status socket (" .. tostring(rerr) .. ")"
			end
			return nil, string.format("the agent's answer ended after %d bytes without a complete reply (%s)",
				got, tostring(rerr))
		end
		if state.got > hs.agent_max_bytes then
			sock:close()
			return nil, string.format("the agent's answer is larger than %d bytes", hs.agent_max_bytes)
		end
		local t = now_ms()
		if t - state.start > hs.agent_deadline_ms then
			sock:close()
			return nil, string.format("the agent's answer took longer than %d ms", hs.agent_deadline_ms)
		end
		-- Bigger blocks while the data flows, back to small ones when it
		-- trickles.
		if t - before <= 50 then
			block = math.min(block * 2, hs.read_block_max)
		else
			block = hs.read_block_min
		end
	end
	sock:close()
	return (table.concat(parts):match("^([^\n]*)\n"))
end

-- The status with every master group, and the timelines: st, tl, or nil
-- and an error message.
function hs.agent_query(path)
	path = path or hs.agent_socket
	local state = { start = now_ms(), got = 0 }
	local from, st, tl, masters = 0, nil, nil, { n = 0 }
	while true do
		local line, err = agent_request(path, string.format("page %d\n", from), state)
		if not line then
			return nil, err
		end
		local part, perr = hs.json_decode(line)
		if type(part) ~= "table" or part.version == nil then
			return nil, "the agent's status socket answered something that is not its status JSON: "
				.. (perr or (type(part) == "table" and type(part.error) == "string" and part.error)
					or "no \"version\" field")
		end
		if not st then
			st = part
			tl = type(part.timelines) == "table" and { timelines = part.timelines } or nil
		end
		for _, g in ipairs(list(part.masters)) do
			masters.n = masters.n + 1
			masters[masters.n] = g
		end
		local nxt, total = num(part.masters_next), num(part.masters_total)
		-- Done: no parts (an agent without them), or every group read.
		if not nxt or not total or nxt >= total then
			break
		end
		if nxt <= from then
			return nil, string.format("the agent's status parts do not advance (from %d, next %d)", from, nxt)
		end
		from = nxt
		if now_ms() - state.start > hs.agent_deadline_ms then
			return nil, string.format("the agent's answer took longer than %d ms", hs.agent_deadline_ms)
		end
	end
	st.masters = setmetatable(masters, getmetatable(st.masters) or hs.array_mt)
	st.masters_from, st.masters_next, st.masters_total, st.timelines = nil, nil, nil, nil
	return st, tl
end

-- ------------------------------------------------------------ the page

local function esc(v)
	if v == nil or v == hs.null then
		return ""
	end
	return (tostring(v):gsub("[&<>\"']", {
		["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;",
	}))
end

local function fmt_ms(ms)
	ms = num(ms)
	if not ms then
		return ""
	end
	if ms < 1000 then
		return string.format("%d ms", ms)
	elseif ms < 60000 then
		return string.format("%.2f s", ms / 1000)
	elseif ms < 3600000 then
		return string.format("%d min %d s", ms // 60000, (ms % 60000) // 1000)
	end
	return string.format("%d h %d min", ms // 3600000, (ms % 3600000) // 60000)
end

local function fmt_time(at_ms)
	at_ms = num(at_ms)
	if not at_ms then
		return ""
	end
	local ok, d = pcall(os.date, "!%Y-%m-%d %H:%M:%S", at_ms // 1000)
	if not ok or type(d) ~= "string" then
		return tostring(at_ms)
	end
	return d .. string.format(".%03d UTC", at_ms % 1000)
end

-- Which HAProxy slot holds each address, in a backend: addr -> {name, status}.
function hs.slots_of(backend)
	local out = {}
	if not core or type(backend) ~= "string" then
		return out
	end
	local list_ = backend_servers(backend)
	if not list_ then
		return out
	end
	for _, e in ipairs(list_) do
		local addr = e.srv:get_addr()
		if addr ~= hs.placeholder then
			local st = e.srv:get_stats() or {}
			local cur = out[addr]
			-- A ready slot wins over one in maintenance for the same address.
			if not cur or (cur.status == "MAINT" and st.status ~= "MAINT") then
				out[addr] = { name = e.name, status = st.status or "?" }
			end
		end
	end
	return out
end

local css = [[
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f4f6f8;color:#1d2630}
header{background:#24313d;color:#fff;padding:10px 18px;display:flex;gap:18px;align-items:baseline;flex-wrap:wrap}
header h1{font-size:18px;margin:0}header a{color:#9cd0ff}
main{padding:12px 18px}section{background:#fff;border:1px solid #d5dbe1;border-radius:6px;margin:0 0 14px;padding:10px 14px}
h2{font-size:16px;margin:4px 0 8px}h3{font-size:14px;margin:10px 0 4px;color:#45525e}
table{border-collapse:collapse;width:100%;margin:4px 0}th,td{text-align:left;padding:3px 8px;border-bottom:1px solid #e6eaee;white-space:nowrap}
th{background:#eef1f4;font-weight:600}td.num{text-align:right}
.st{display:inline-block;padding:1px 7px;border-radius:9px;font-weight:600;font-size:12px}
.ok{background:#cdeccd;color:#185c18}.warn{background:#fbe7b5;color:#7a5200}.bad{background:#f7c9c9;color:#8a1515}.off{background:#e3e6e9;color:#4c5661}
.down{border:2px solid #c62828;background:#fdecea;color:#8a1515;font-size:16px;padding:14px}
.bars{position:relative;height:22px;background:#eef1f4;border-radius:3px;margin:2px 0}
.bar{position:absolute;top:0;height:22px;border-radius:3px;opacity:.9}
.tl td{vertical-align:middle}.tl td.b{width:60%}
.s-sdown{background:#f0a35e}.s-odown{background:#e57373}.s-failover-start{background:#ba68c8}.s-promoted{background:#7986cb}
.s-decision{background:#4fc3f7}.s-role-confirmed{background:#4db6ac}.s-haproxy-sent{background:#81c784}.s-haproxy-acked{background:#388e3c}
.s-switch-master-seen{background:#90a4ae}.s-fenced{background:#8d6e63}.s-master-back{background:#66bb6a}
small{color:#5f6b76}
]]

local state_class = { ok = "ok", unconfirmed = "warn", ["no-master"] = "bad", disagree = "bad", frozen = "bad" }
local link_class = { up = "ok", ok = "ok", connecting = "warn", idle = "off", closed = "bad", down = "bad", err = "bad" }

local function badge(text, class)
	return string.format('<span class="st %s">%s</span>', class or "off", esc(text))
end

local function slot_cell(slots, addr)
	local sl = slots[addr]
	if not sl then
		return "<td>-</td>"
	end
	local st = tostring(sl.status)
	local class = status_usable(st) and "ok" or (st:find("MAINT", 1, true) and "off" or "bad")
	return string.format("<td>%s %s</td>", esc(sl.name), badge(st, class))
end

local function render_group(h, g)
	h[#h + 1] = string.format("<section><h2>%s %s</h2>", esc(g.name), badge(g.state, state_class[g.state] or "bad"))
	h[#h + 1] = "<table><tr><th>master</th><th>config epoch</th><th>ROLE confirmed</th>"
		.. "<th>write backend routes to</th><th>read backend ready</th><th>last switch</th></tr>"
	local wr = {}
	for _, a in ipairs(list(g.write_ready)) do
		wr[#wr + 1] = esc(a)
	end
	local ls = g.last_switch
	local last = ""
	if type(ls) == "table" and ls ~= hs.null then
		last = string.format("%s &rarr; %s, epoch %s, %s", esc(ls.from), esc(ls.to), esc(ls.epoch), esc(fmt_time(ls.at_ms)))
	end
	h[#h + 1] = string.format("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr></table>",
		esc(g.master), esc(g.config_epoch), g.role_confirmed == true and badge("yes", "ok") or badge("no", "warn"),
		#wr > 0 and table.concat(wr, ", ") or badge("none", "bad"), esc(g.read_ready_count), last)

	local wslots = hs.slots_of(g.write_backend)
	local rslots = hs.slots_of(g.read_backend)
	h[#h + 1] = string.format("<h3>Nodes</h3><table><tr><th>address</th><th>role</th><th>link</th><th>lag (link down)</th>"
		.. "<th>serves reads</th><th>slot in %s</th><th>slot in %s</th><th>Sentinel flags</th></tr>",
		esc(g.write_backend), esc(g.read_backend))
	if g.master and g.master ~= "" then
		h[#h + 1] = string.format("<tr><td><b>%s</b></td><td>%s</td><td></td><td></td><td></td>%s%s<td></td></tr>",
			esc(g.master), badge("master", "ok"), slot_cell(wslots, g.master), slot_cell(rslots, g.master))
	end
	for _, r in ipairs(list(g.replicas)) do
		h[#h + 1] = string.format("<tr><td>%s</td><td>%s</td><td>%s</td><td class=num>%s</td><td>%s</td>%s%s<td>%s</td></tr>",
			esc(r.addr), badge(r.role == "slave" and "replica" or r.role, r.role == "slave" and "off" or "warn"),
			badge(r.link, link_class[r.link]), esc(fmt_ms(r.link_down_ms)),
			r.read_ready == true and badge("yes", "ok") or badge("no", "off"),
			slot_cell(wslots, r.addr), slot_cell(rslots, r.addr), esc(r.flags))
	end
	h[#h + 1] = "</table>"

	h[#h + 1] = "<h3>Sentinel views</h3><table><tr><th>Sentinel</th><th>master it reports</th><th>epoch</th><th>age</th></tr>"
	for _, v in ipairs(list(g.sentinel_views)) do
		local same = v.master == g.master
		h[#h + 1] = string.format("<tr><td>%s</td><td>%s</td><td class=num>%s</td><td class=num>%s</td></tr>",
			esc(v.sentinel), same and esc(v.master) or badge(v.master, "warn"), esc(v.epoch), esc(fmt_ms(v.age_ms)))
	end
	h[#h + 1] = "</table></section>"
end

local function render_sentinels(h, st)
	h[#h + 1] = string.format("<section><h2>Sentinels <small>%s usable</small></h2>", esc(st.sentinels_usable))
	h[#h + 1] = "<table><tr><th>address</th><th>commands</th><th>Pub/Sub</th><th>TILT</th><th>last answer</th>"
		.. "<th>events</th><th>malformed</th><th>last error</th></tr>"
	-- The agent's clock at its answer (its start + its uptime), not ours.
	local now = num(st.started_ms) and num(st.uptime_ms) and st.started_ms + st.uptime_ms
	for _, s in ipairs(list(st.sentinels)) do
		local age = (now and num(s.last_ok_ms) and s.last_ok_ms > 0) and (fmt_ms(math.max(0, now - s.last_ok_ms)) .. " ago") or ""
		h[#h + 1] = string.format("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td class=num>%s</td>"
			.. "<td class=num>%s</td><td>%s</td></tr>",
			esc(s.addr), badge(s.cmd_link, link_class[s.cmd_link]), badge(s.pubsub_link, link_class[s.pubsub_link]),
			s.tilt == true and badge("TILT", "bad") or "no", esc(age), esc(s.events), esc(s.malformed_events), esc(s.last_error))
	end
	h[#h + 1] = "</table></section>"
end

local function render_timelines(h, tl)
	local all = list(tl and tl.timelines)
	h[#h + 1] = "<section><h2>Last failovers</h2>"
	if #all == 0 then
		h[#h + 1] = "<p><small>No failover since the agent started.</small></p></section>"
		return
	end
	h[#h + 1] = "<table class=tl>"
	for i = #all, math.max(1, #all - 4), -1 do
		local t = all[i]
		local total = num(t.total_ms) or 0
		local span = total > 0 and total or 1
		if t.outcome == "no-failover" then
			-- A fence (or +sdown) and the same master back.
			h[#h + 1] = string.format("<tr><th colspan=4>%s: %s, %s, total %s: fence ended, master back, no failover</th></tr>",
				esc(t.master), esc(t.from), esc(fmt_time(t.start_ms)), esc(fmt_ms(total)))
		else
			h[#h + 1] = string.format("<tr><th colspan=4>%s: %s &rarr; %s, epoch %s, %s, total %s%s</th></tr>",
				esc(t.master), esc(t.from), esc(t.to), esc(t.epoch), esc(fmt_time(t.start_ms)), esc(fmt_ms(total)),
				t.complete == true and "" or " (in progress)")
		end
		local prev = 0
		for _, sg in ipairs(list(t.stages)) do
			local off = num(sg.offset_ms) or 0
			local left = math.max(0, math.min(100, prev * 100 / span))
			local width = math.max(0.4, math.min(100 - left, (off - prev) * 100 / span))
			h[#h + 1] = string.format('<tr><td>%s</td><td class=num>+%s</td><td class=num>+%s</td>'
				.. '<td class=b><div class=bars><div class="bar s-%s" style="left:%.2f%%;width:%.2f%%"></div></div></td></tr>',
				esc(sg.stage), esc(fmt_ms(off)), esc(fmt_ms(off - prev)), esc(tostring(sg.stage):gsub("[^%w-]", "")),
				left, width)
			prev = off
		end
	end
	h[#h + 1] = "</table></section>"
end

-- The whole page. st: the decoded status (nil when err), tl: the decoded
-- timelines (may be nil), err: why the agent could not be read.
function hs.render(st, tl, err)
	local h = {}
	h[#h + 1] = '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
		.. '<meta http-equiv="refresh" content="2"><title>hasentinel</title><style>' .. css .. "</style></head><body>"
	h[#h + 1] = "<header><h1>hasentinel</h1>"
	if st then
		h[#h + 1] = string.format("<span>agent %s, pid %s, up %s</span>", esc(st.version), esc(st.pid), esc(fmt_ms(st.uptime_ms)))
	end
	h[#h + 1] = '<a href="/">HAProxy stats</a><a href="/hasentinel.json">status JSON</a>'
	if core then
		h[#h + 1] = "<span>" .. esc(fmt_time(now_ms())) .. "</span>"
	end
	h[#h + 1] = "</header><main>"
	if not st then
		h[#h + 1] = '<section class="down" id="agent-down"><b>The agent is unreachable.</b><br>' .. esc(err)
			.. "<br><small>HAProxy keeps routing with the state the agent last gave it, and new connections are"
			.. ' still held while a backend has no server. HAProxy\'s own statistics: <a href="/">/</a>.</small></section>'
	else
		local hp = st.haproxy
		if type(hp) == "table" then
			h[#h + 1] = string.format("<section><h2>HAProxy runtime API %s</h2><small>pid %s, %s commands sent, "
				.. "%s failed, %s reloads seen, last switch applied in %s%s</small></section>",
				badge(hp.link, link_class[hp.link]), esc(hp.pid), esc(hp.commands_sent),
				esc(hp.commands_failed), esc(hp.reloads_seen),
				num(hp.last_switch_apply_ms) and hp.last_switch_apply_ms >= 0 and esc(fmt_ms(hp.last_switch_apply_ms)) or "-",
				hp.last_error and hp.last_error ~= hs.null and hp.last_error ~= "" and (", last error: " .. esc(hp.last_error)) or "")
		end
		local groups = list(st.masters)
		if #groups == 0 then
			h[#h + 1] = "<section><p>No master group known yet.</p></section>"
		end
		for _, g in ipairs(groups) do
			if type(g) == "table" then
				render_group(h, g)
			end
		end
		render_sentinels(h, st)
		if tl then
			render_timelines(h, tl)
		elseif err then
			h[#h + 1] = "<section><p>Timelines unavailable: " .. esc(err) .. "</p></section>"
		end
	end
	h[#h + 1] = "</main></body></html>\n"
	return table.concat(h)
end

local function reply(applet, status, ctype, body)
	applet:set_status(status)
	applet:add_header("content-type", ctype)
	applet:add_header("content-length", tostring(#body))
	applet:add_header("cache-control", "no-store")
	applet:start_response()
	applet:send(body)
end

-- The service: /hasentinel.json (the agent's status JSON, checked) and
-- anything else it is used for (/hasentinel): the page.
function hs.service(applet)
	local st, tl = hs.agent_query()
	local err
	if not st then
		err = tl
		tl = nil
	end
	if applet.path == "/hasentinel.json" then
		local ok, body = false, nil
		if st then
			ok, body = pcall(hs.json_encode, st)
		end
		if ok then
			reply(applet, 200, "application/json", body .. "\n")
		else
			err = err or ("cannot encode the agent's status: " .. tostring(body))
			reply(applet, 503, "application/json", string.format('{"error":"%s"}\n',
				(err:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end))))
		end
		return
	end
	local ok, html = pcall(hs.render, st, tl, err)
	if not ok then
		-- A status with unexpected shapes: say so rather than fail.
		ok, html = pcall(hs.render, nil, nil, "cannot show the agent's status: " .. tostring(html))
		st = nil
	end
	reply(applet, st and 200 or 503, "text/html; charset=utf-8", ok and html or "hasentinel: cannot render the page\n")
end

if core then
	core.register_action("hs_hold", { "tcp-req" }, hs.hold, 2)
	core.register_service("hs_tick", "tcp", hs.tick)
	core.register_service("hasentinel", "http", hs.service)
end

return hs
