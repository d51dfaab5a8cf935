"""MCP tool servers: their settings, connections, tools and processes.

`McpManager` (manager.py) connects every enabled `[[mcp.servers]]` entry in
the background, keeps each server's state (connecting, ready with its tools,
failed with the reason and the end of its stderr), and puts the servers'
tools into the session's `ToolRegistry` under names that are unique and
valid for vLLM's tool parsers (names.py). Each tool is an `McpTool`
(tool.py) that calls the server through the official `mcp` SDK, under the
same approval policy as every other tool. A stdio server runs under a small
guard process (guard.py) that stops it when vllm-chat ends, however it ends.

Importing this package is cheap: the SDK is imported (in a thread) only
when a server is actually connected.
"""
