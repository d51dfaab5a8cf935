"""A fault for the tests: a process that answers the MCP handshake with a protocol version
no client knows (the SDK's server side can't be made to do that, so this one line-based
responder stands in). Every other request gets "method not found"."""

import json
import sys

for line in sys.stdin:
    try:
        message = json.loads(line)
    except ValueError:
        continue
    if "id" not in message:
        continue
    if message.get("method") == "initialize":
        result = {"protocolVersion": "1999-01-01", "capabilities": {},
                  "serverInfo": {"name": "from-the-past", "version": "0.1"}}
        reply = {"jsonrpc": "2.0", "id": message["id"], "result": result}
    else:
        reply = {"jsonrpc": "2.0", "id": message["id"], "error": {"code": -32601, "message": "Method not found"}}
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()
