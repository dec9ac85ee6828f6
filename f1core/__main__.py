import sys

from f1core.cli import main

sys.exit(main())
