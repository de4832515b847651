"""`python -m markov.job_entrypoint`, an entry point promised in docs/interfaces.md.

The code lives in `markov.runners.job`.
"""

import sys

from markov.runners.job import main

if __name__ == "__main__":
    sys.exit(main())
