-- hasentinel.lua: the half of hasentinel that runs inside HAProxy 2.6 (Lua 5.3).
--
-- It never decides who the master is and never changes a server: the agent
-- is the only writer of server state. This file only reads what the agent has
-- made true, and:
--
--   lua.hs_hold BACKEND LIMIT_MS   (tcp-request content action)
--       Holds a new connection while BACKEND has no usable server, looking
--       again every 2 ms without blocking HAProxy (it yields), and lets it
--       proceed as soon as a server the agent made ready is usable. After
--       LIMIT_MS it lets it proceed anyway, which closes it as HAProxy does
--       without the action (no server available). With a usable server the
--       action returns at once: one sample fetch per connection.
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
hs.agent_max_bytes = 4 * 1024 * 1024
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

-- Servers of each backend, looked up once (the slots are fixed by the
-- configuration: server-template).
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
	for _, srv in pairs(be.servers) do
		list[#list + 1] = srv
	end
	servers_of[name] = list
	return list
end

-- True when every server HAProxy may route to in backend `name` has a real
-- address (one the agent set: not the placeholder of an empty slot) and
-- there is at least one. Only asked when a held connection is about to be
-- released, never on the fast path.
function hs.ready_with_address(name)
	local list = backend_servers(name)
	if not list then
		return false
	end
	local n = 0
	for _, srv in ipairs(list) do
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
	if txn.f:nbsrv(backend) > 0 then
		return
	end
	local s = hold_settings(backend, limit)
	if s.limit_ms == 0 then
		return
	end
	local deadline = now_ms() + s.limit_ms
	local sock = tick_open()
	while true do
		-- The client went away or filled the buffer: stop holding (a
		-- yield would not be allowed any more).
		if not txn.req:may_recv() then
			break
		end
		sock = tick_wait(sock)
		if txn.f:nbsrv(backend) > 0 and hs.ready_with_address(backend) then
			break
		end
		if now_ms() >= deadline then
			break
		end
	end
	if sock then
		sock:close()
	end
end

-- The ticker: one byte every poll_ms to each connected held connection,
-- until it closes.
function hs.tick(applet)
	while true do
		applet:send("t")
		core.msleep(hs.poll_ms)
	end
end

if core then
	core.register_action("hs_hold", { "tcp-req" }, hs.hold, 2)
	core.register_service("hs_tick", "tcp", hs.tick)
end

return hs
