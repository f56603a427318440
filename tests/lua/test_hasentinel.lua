-- Unit test of haproxy/hasentinel.lua outside HAProxy (lua5.3): the strict
-- JSON decoder (valid and invalid documents, then random garbage and
-- mutations of a real status document: it must return a value or nil and a
-- message, never raise), the encoder (what decodes encodes back to the same
-- value), and the page renderer on odd shapes.
--   lua5.3 tests/lua/test_hasentinel.lua SRCDIR [ITERATIONS]
local srcdir = arg[1] or "."
local iterations = tonumber(arg[2]) or 20000
local hs = dofile(srcdir .. "/haproxy/hasentinel.lua")
local dec = hs.json_decode
local failures = 0

local function fail(fmt, ...)
	failures = failures + 1
	io.stderr:write("FAIL: " .. string.format(fmt, ...) .. "\n")
end

-- ------------------------------------------------------------ valid
local ok_cases = {
	{ "0", 0 }, { "-0", 0 }, { "12", 12 }, { "-7", -7 }, { "1.5", 1.5 }, { "1e2", 100.0 }, { "2E-1", 0.2 },
	{ "true", true }, { "false", false }, { '""', "" }, { '"a\\nb"', "a\nb" }, { '"\\u00e9"', "\u{e9}" },
	{ '"\\ud83d\\ude00"', "\u{1F600}" }, { ' "x" ', "x" }, { '"\\/\\\\\\""', '/\\"' },
	{ "9007199254740993", 9007199254740993 },
}
for _, c in ipairs(ok_cases) do
	local v, err = dec(c[1])
	if v ~= c[2] then
		fail("decode(%q) = %s (%s), want %s", c[1], tostring(v), tostring(err), tostring(c[2]))
	end
end
local v = dec('{"a":[1,{"b":null}],"c":{}}')
if not (type(v) == "table" and v.a.n == 2 and v.a[1] == 1 and v.a[2].b == hs.null and next(v.c) == nil) then
	fail("nested document decoded wrong")
end
if dec("null") ~= hs.null then
	fail("null")
end

-- ------------------------------------------------------------ invalid
local bad = {
	"", " ", "tru", "nul", "01", "-", "1.", ".5", "1e", "+1", "0x10", "NaN", "Infinity", "[1,]", "[,1]", "{,}",
	'{"a"}', '{"a":}', '{"a":1,}', "{a:1}", "'x'", '"abc', '"\\x"', '"\\u12"', '"\\ud800"', '"\\udc00"',
	'"a\tb"', '"a\nb"', "[1 2]", "1 2", "[", "]", "{", "}", '"\\u00e9" x', "[1]]", '"\255"',
	string.rep("[", 65) .. string.rep("]", 65),
}
for _, s in ipairs(bad) do
	local r, err = dec(s)
	if r ~= nil or type(err) ~= "string" then
		fail("decode(%q) accepted: %s", s, tostring(r))
	end
end
if not dec(string.rep("[", 64) .. string.rep("]", 64)) then
	fail("64 levels of nesting refused")
end

-- ------------------------------------------------------------ fuzz
local status = '{"version":"0.1.0","pid":42,"uptime_ms":1000,"sentinels":[{"addr":"127.0.0.1:26379",'
	.. '"cmd_link":"up","pubsub_link":"up","tilt":false,"last_ok_ms":1795795879367,"events":3}],'
	.. '"sentinels_usable":1,"haproxy":{"link":"up","pid":7,"last_switch_apply_ms":1},'
	.. '"masters":[{"name":"mymaster","state":"ok","master":"127.0.0.1:7001","config_epoch":3,'
	.. '"role_confirmed":true,"write_backend":"mymaster_write","read_backend":"mymaster_read",'
	.. '"write_ready":["127.0.0.1:7001"],"read_ready_count":2,"replicas":[{"addr":"127.0.0.1:7000",'
	.. '"flags":"","link":"ok","role":"slave","read_ready":true,"priority":100,"link_down_ms":0}],'
	.. '"sentinel_views":[{"sentinel":"127.0.0.1:26379","master":"127.0.0.1:7001","epoch":3,"age_ms":120}],'
	.. '"last_switch":{"from":"127.0.0.1:7000","to":"127.0.0.1:7001","epoch":3,"at_ms":1795795879367}}]}'
local timelines = '{"timelines":[{"master":"mymaster","from":"a","to":"b","epoch":1,"complete":true,'
	.. '"start_ms":1795795879367,"total_ms":1250,"stages":[{"stage":"failover-start","at_ms":1,"offset_ms":0},'
	.. '{"stage":"promoted","at_ms":2,"offset_ms":1080},{"stage":"haproxy-acked","at_ms":3,"offset_ms":1090}]}]}'

local st = dec(status)
if not st or st.masters[1].name ~= "mymaster" then
	fail("the sample status does not decode")
end

math.randomseed(tonumber(os.getenv("SEED") or "") or 8)
local alphabet = '{}[]":,\\ 0123456789.eE+-tfnrul"abcu\n\t'
local function mutate(s)
	local b = { s:byte(1, -1) }
	for _ = 1, math.random(1, 4) do
		local op, i = math.random(3), math.random(1, #b + 1)
		if op == 1 and #b > 0 then
			table.remove(b, math.min(i, #b))
		elseif op == 2 then
			table.insert(b, i, alphabet:byte(math.random(#alphabet)))
		else
			b[math.min(i, #b)] = math.random(0, 255)
		end
	end
	return string.char(table.unpack(b))
end
local accepted = 0
for n = 1, iterations do
	local input
	if n % 3 == 0 then
		local t = {}
		for i = 1, math.random(0, 64) do
			t[i] = string.char(math.random(0, 255))
		end
		input = table.concat(t)
	else
		input = mutate(n % 2 == 0 and status or timelines)
	end
	local okc, r, err = pcall(dec, input)
	if not okc then
		fail("decode raised on %q: %s", input, tostring(r))
	elseif r == nil and type(err) ~= "string" then
		fail("decode returned nil without a message on %q", input)
	elseif r ~= nil then
		accepted = accepted + 1
		-- Whatever decodes encodes back to the same value (/hasentinel.json)
		-- and must render without raising.
		local oke, text = pcall(hs.json_encode, r)
		if not oke then
			fail("encode raised on %q: %s", input, tostring(text))
		elseif hs.json_encode(dec(text)) ~= text then
			fail("encode(decode(%q)) does not round-trip: %s", input, text)
		end
		if type(r) == "table" then
			local okr, html = pcall(hs.render, r, r, nil)
			if not okr then
				fail("render raised on %q: %s", input, tostring(html))
			end
		end
	end
end

-- ------------------------------------------------------------ encode
for _, c in ipairs({
	{ '{"b":[1,2.5,"x\\n\\"",null,true],"a":{}}', '{"a":{},"b":[1,2.5,"x\\n\\"",null,true]}' },
	{ "[]", "[]" }, { '"\\u0001"', '"\\u0001"' }, { "-0", "0" },
}) do
	local got = hs.json_encode(dec(c[1]))
	if got ~= c[2] then
		fail("encode(decode(%q)) = %s, want %s", c[1], got, c[2])
	end
end
if hs.json_encode(dec(status)) ~= hs.json_encode(dec(hs.json_encode(dec(status)))) then
	fail("the sample status does not round-trip")
end

-- ------------------------------------------------------------ render
local html = hs.render(st, dec(timelines), nil)
for _, want in ipairs({ "mymaster", "127.0.0.1:7001", "127.0.0.1:26379", "s-haproxy-acked", "Last failovers" }) do
	if not html:find(want, 1, true) then
		fail("page lacks %s", want)
	end
end
local down = hs.render(nil, nil, "cannot connect <x>")
if not down:find("The agent is unreachable", 1, true) or not down:find("cannot connect &lt;x&gt;", 1, true) then
	fail("agent-down page wrong")
end

print(string.format("%d fuzz inputs, %d decoded, %d failures", iterations, accepted, failures))
os.exit(failures == 0 and 0 or 1)
