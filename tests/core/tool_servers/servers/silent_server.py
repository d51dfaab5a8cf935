"""A process that is started like an MCP server but never answers anything (not even
`initialize`): it says one line on stderr and then reads stdin until it ends."""

import sys

sys.stderr.write("silent server: reading, never answering\n")
sys.stderr.flush()
for _ in sys.stdin:
    pass
