#!/usr/bin/env bash
# Installs dependencies, builds, installs planasonix-mcp (PREFIX, default /usr/local), prepares
# the store under PLANASONIX_HOME (default ~/.local/share/planasonix) and starts the HTTP server
# (`planasonix-mcp serve`, 127.0.0.1:8080 or 127.0.0.1:$PORT) in the foreground.
#
# On the first run (a store with no organization yet) it creates one organization
# (PLANASONIX_FIRST_ORG, default "My Company") and one API key with every scope, prints the key
# once, and prints MCP client configurations with that key filled in. Later runs create nothing
# and print the same configurations with a placeholder for the key. Ctrl-C stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${PREFIX:-/usr/local}
scripts/deps.sh
make -j"$(nproc)" >/dev/null
SUDO=""
[ "$(id -u)" -ne 0 ] && [ ! -w "$prefix" ] && SUDO="sudo"
$SUDO make install PREFIX="$prefix" >/dev/null
bin=$prefix/bin/planasonix-mcp
"$bin" migrate 2>/dev/null

port=${PORT:-8080}
home_env=""
[ -n "${PLANASONIX_HOME:-}" ] && home_env=", \"PLANASONIX_HOME\": \"$PLANASONIX_HOME\""
url="http://127.0.0.1:$port"
key=""
if "$bin" org list --json 2>/dev/null | grep -q '"org_id"'; then
    first=0
else
    first=1
    org_name=${PLANASONIX_FIRST_ORG:-My Company}
    org=$("$bin" org create "$org_name" --plan professional 2>/dev/null)
    key=$("$bin" key create --org "$org" --scopes all --name first-key --json 2>/dev/null |
        sed -n 's/.*"key":"\(flx_[A-Za-z0-9]*\)".*/\1/p')
    if [ -z "$key" ]; then
        echo "run.sh: could not create the first API key" >&2
        exit 1
    fi
fi

echo
echo "Planasonix is installed as $bin."
if [ "$first" = 1 ]; then
    cat <<EOF

First run: created the organization "$org_name" ($org) and an API key with every scope.
The key is shown this once; it is not stored anywhere you can read it back:

    $key

EOF
    shown=$key
else
    cat <<EOF

The store already has an organization; no key was created. Create one with
    $bin key create --org ORG --scopes all --name laptop
(\`$bin org list\` shows your organizations) and put it where flx_... is below.
EOF
    shown="flx_..."
fi
cat <<EOF
MCP clients (Claude Desktop, Cursor, VS Code, MCP Inspector):

  the server started below (Streamable HTTP; use $url/sse for clients that only speak SSE):
    {"mcpServers": {"planasonix": {"type": "url", "url": "$url/mcp",
      "headers": {"Authorization": "Bearer $shown"}}}}

  or let the client start its own process on the same store (stdio):
    {"mcpServers": {"planasonix": {"command": "$bin", "args": ["--stdio"],
      "env": {"PLANASONIX_API_KEY": "$shown"$home_env}}}}

Starting the server on $url (Ctrl-C stops it).
EOF
export PORT=$port
exec "$bin" serve
