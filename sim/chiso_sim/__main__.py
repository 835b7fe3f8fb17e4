"""`python -m chiso_sim …` is `chiso-sim …` (how chiso starts the simulator process)."""

import sys

from chiso_sim.cli import main

sys.exit(main())
