import sys

from va_gpt.cli.main import main

sys.exit(main())
