"""The warm run server's liveness rule: run monitoring asks it whether a run's worker still runs
when the server is gone, so a dead worker must never read as alive."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from dubbing_pipeline.defs.warm.protocol import alive


def test_a_running_process_is_alive_and_a_killed_unreaped_one_is_not() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert alive(child.pid)
        child.kill()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # killed, not yet waited for: a zombie
            with open(f"/proc/{child.pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
            time.sleep(0.05)
        os.kill(child.pid, 0)  # the signal alone still finds it
        assert not alive(child.pid)
    finally:
        child.kill()
        child.wait()
    assert not alive(child.pid)
