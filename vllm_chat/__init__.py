"""vllm-chat: a keyboard-driven terminal chat client for vLLM's OpenAI-compatible server.

This module only carries the version, so `vllm-chat --version` stays instant.
"""

__version__ = "0.1.0"
