"""`python -m markov.rollout_worker`, an entry point promised in docs/interfaces.md.

The code lives in `markov.workers.rollout`.
"""

import sys

from markov.workers.rollout import main

if __name__ == "__main__":
    sys.exit(main())
