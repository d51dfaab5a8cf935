"""`python -m vllm_chat` runs the same command as `vllm-chat`."""

import sys

from vllm_chat.cli import main

sys.exit(main())
