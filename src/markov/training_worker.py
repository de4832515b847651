"""`python -m markov.training_worker`, an entry point promised in docs/interfaces.md.

The code lives in `markov.workers.training`.
"""

import sys

from markov.workers.training import main

if __name__ == "__main__":
    sys.exit(main())
