-- luacheck settings for haproxy/*.lua and tests/lua/*.lua (./run check)
std = "lua53"
max_line_length = 160
files["haproxy/hasentinel.lua"] = { read_globals = { "core" } }
