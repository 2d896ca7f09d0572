#!/usr/bin/env bash
# Installs dependencies, builds, installs /usr/local/bin/planasonix-mcp, prepares the store
# under PLANASONIX_HOME (default ~/.local/share/planasonix) and starts the MCP server on
# stdio, after printing what to do next.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
make -j"$(nproc)" >/dev/null
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO make install >/dev/null
planasonix-mcp migrate >&2

cat >&2 <<'GUIDE'

Planasonix is installed as /usr/local/bin/planasonix-mcp.

1. Create an organization and an API key (the key is printed once):
     planasonix-mcp org create "My Company" --plan professional
     planasonix-mcp key create --org "My Company" --scopes all --name laptop

2. Point your MCP client (Claude Desktop, Cursor, VS Code, MCP Inspector) at it:
     {"mcpServers": {"planasonix": {"command": "/usr/local/bin/planasonix-mcp", "args": ["--stdio"],
       "env": {"PLANASONIX_API_KEY": "flx_..."}}}}

The client starts the server itself. Below, the server runs on this terminal's stdin/stdout
(one JSON-RPC message per line; Ctrl-D stops it).

GUIDE
exec planasonix-mcp --stdio
