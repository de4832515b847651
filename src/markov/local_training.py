"""`python -m markov.local_training`, an entry point promised in docs/interfaces.md.

The code lives in `markov.runners.local`.
"""

import sys

from markov.runners.local import main

if __name__ == "__main__":
    sys.exit(main())
