-- The same load as mixed.lua (same bodies, same weights), sent to the bare
-- twisted.web resource of bare_server.py:
--
--   wrk -t1 -c100 -d10s -s bare.lua http://127.0.0.1:8081/ -- PEERS_FILE

BARE = true
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "mixed.lua")
