"""`python -m markov.evaluation_worker`, an entry point promised in docs/interfaces.md.

The code lives in `markov.workers.evaluation`.
"""

import sys

from markov.workers.evaluation import main

if __name__ == "__main__":
    sys.exit(main(hard_stop=True))
