"""`python -m gan_core.models.evaluators`: train and save the shipped evaluator networks."""

import sys

from .recipes import main

sys.exit(main())
