"""The parts behind `vllm_chat.core.attachments`: images, video and audio for a request.

- `errors`: `AttachmentError`, the one exception every bad input becomes.
- `sniff`: what a file is, from its first bytes (never from its name).
- `sources`: what the user typed or pasted (a path, a `file://`, http(s) or
  `data:` URL) and reading a local file within the limits.
- `images`: Pillow work: decode, put upright, downscale, re-encode.
- `store`: the media folder, where files live under their content hash, and
  the cache of their data URLs.
- `requests`: content parts for a request, keeping only recent media, and
  recognising the server's multimodal errors.

Import from `vllm_chat.core.attachments`, which is the public face of all of it.
Nothing here imports Pillow at module level: it costs start-up time, and
most runs attach nothing.
"""
