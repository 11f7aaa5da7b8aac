import sys

from thermocc.cli import main

sys.exit(main())
