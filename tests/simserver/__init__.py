"""Tests of the simulated vLLM server (`vllm_chat.simserver`)."""
