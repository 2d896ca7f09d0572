/*
 * MCP over stdin/stdout (mcp.md §7.1): one JSON-RPC message per line, only protocol
 * messages on stdout, logs on stderr. The caller is the key in PLANASONIX_API_KEY.
 * Exits cleanly on EOF and on SIGTERM/SIGINT, flushing the audit queue.
 */
#ifndef PX_TRANSPORT_STDIO_H
#define PX_TRANSPORT_STDIO_H

struct px_transport_env;

#define PX_STDIO_MAX_MESSAGE (4u << 20) /* a longer line is refused with -32600 */

/* Serves one session until EOF or a termination signal. Returns the process exit code. */
int px_stdio_run(const struct px_transport_env *env);

#endif
