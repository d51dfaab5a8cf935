"""A simulated vLLM OpenAI-compatible server, for `vllm-chat --demo`, tests and benchmarks.

It speaks vLLM 0.32's wire format byte for byte (chunks, errors, auth, tool
and reasoning deltas, structured outputs, logprobs, `n` and beam search,
legacy completions, `/tokenize`, `/metrics`, per-request metrics, runtime
LoRA routes), says scripted Markdown instead of running a model, runs requests
through a small engine (slots, queue, KV cache, prefix cache, preemption), and
misbehaves on demand (`faults.py`).
"""

from vllm_chat.simserver.config import SimConfig
from vllm_chat.simserver.faults import FAULT_KINDS
from vllm_chat.simserver.metrics import SimStats
from vllm_chat.simserver.replies import MAGIC_PHRASES
from vllm_chat.simserver.server import SimServer, ThreadedSimServer

__all__ = ["FAULT_KINDS", "MAGIC_PHRASES", "SimConfig", "SimServer", "SimStats", "ThreadedSimServer"]
