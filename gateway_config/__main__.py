import sys

from gateway_config.cli import main

sys.exit(main())
