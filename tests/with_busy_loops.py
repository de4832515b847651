"""Run a command while busy loops compete for the cores: the suite must not depend on idle CPUs.

    python tests/with_busy_loops.py 8 -- make test

Starts N processes that spin forever, runs the command, stops the loops whatever happens, prints
the command's wall time and exits with the command's status.
"""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import time


def spin() -> None:
    """Burn one core until killed."""
    while True:
        pass


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--" or not argv[0].isdigit():
        print(__doc__, file=sys.stderr)
        return 2
    loops = [multiprocessing.Process(target=spin, daemon=True) for _ in range(int(argv[0]))]
    for loop in loops:
        loop.start()
    started = time.monotonic()
    try:
        code = subprocess.call(argv[2:])
    finally:
        for loop in loops:
            loop.kill()
    print(
        f"{' '.join(argv[2:])}: exit {code} in {time.monotonic() - started:.0f} s "
        f"beside {len(loops)} busy loops",
        flush=True,
    )
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
