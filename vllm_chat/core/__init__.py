"""The core: everything that is not drawing.

Nothing under `vllm_chat.core` imports Textual, and `openai` is imported only
inside the function that builds the client (see `client.py`). A test enforces
both in a fresh interpreter.
"""
