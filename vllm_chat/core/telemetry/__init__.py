"""What a vLLM server says about itself: its version, models, and Prometheus metrics.

- `metrics`: `/metrics` parsed (with `prometheus_client`'s parser) into the
  figures a chat user cares about; older metric names understood.
- `probe`: plain HTTP to the server root with short timeouts.
- `snapshot`: one look at the server (version, models, metrics) that never raises.
- `facts`: a snapshot in words, for the panel, the CLI and the status line.
"""
