"""A container init like compose's `init: true` (tini): runs its arguments as a child, passes SIGTERM on.

`python init_standin.py <argv...>`: the engine's `State.Pid` is then this process, not the target.
"""

import signal
import subprocess
import sys

child = subprocess.Popen(sys.argv[1:])
signal.signal(signal.SIGTERM, lambda *_: child.terminate())
sys.exit(child.wait())
