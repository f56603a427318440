#!/bin/bash
# haproxy/hasentinel.lua outside HAProxy: luacheck (lint, no globals), then
# tests/lua/test_hasentinel.lua under lua5.3 (the JSON decoder, valid and
# invalid documents and 30000 random and mutated inputs, and the renderer).
# Exit 77 when lua5.3 is missing (./run check installs it).
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "${top_srcdir:-$here/../..}" && pwd)
command -v lua5.3 >/dev/null 2>&1 || { echo "SKIP: lua5.3 not installed" >&2; exit 77; }
if command -v luacheck >/dev/null 2>&1; then
	(cd "$top" && luacheck --no-color -q haproxy/hasentinel.lua tests/lua/test_hasentinel.lua) ||
		{ echo "FAIL: luacheck" >&2; exit 1; }
else
	echo "luacheck not installed: lint skipped" >&2
fi
lua5.3 "$top/tests/lua/test_hasentinel.lua" "$top" "${LUA_FUZZ_ITERATIONS:-30000}"
