"""Record what a tmux pane's program writes to its terminal, with the time each piece came.

    tmux pipe-pane -O -t PANE 'exec python bench/_tap.py DATA INDEX READY'

tmux hands this process a copy of every byte the program in the pane writes to
its pty (what the terminal, tmux, reads and draws). The bytes go to DATA as they
are; INDEX gets one line per read, `TIME END`: `time.time()` when the read
returned and the length of DATA after it. READY is created once both files are
open, so the benchmark knows the tap listens before it lets the program start.

Stdlib only, and nothing but reading and appending: the tap shares the two
cores with the program it watches.
"""

from __future__ import annotations

import os
import sys
import time


def main() -> int:
    """Copy stdin to DATA, noting when each read arrived, until tmux closes the pipe."""
    data_path, index_path, ready_path = sys.argv[1:4]
    total = 0
    with open(data_path, "wb", buffering=0) as data, open(index_path, "w", buffering=1) as index:
        with open(ready_path, "w"):
            pass
        fd = sys.stdin.fileno()
        while True:
            chunk = os.read(fd, 1 << 16)
            now = time.time()
            if not chunk:
                return 0
            data.write(chunk)
            total += len(chunk)
            index.write(f"{now:.6f} {total}\n")


if __name__ == "__main__":
    sys.exit(main())
