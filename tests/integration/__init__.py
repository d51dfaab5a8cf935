"""Tests against a real vLLM server (skipped unless VLLM_CHAT_REAL_URL is set)."""
