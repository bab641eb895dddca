"""Live capture without a server: `labctl capture LAB NODE --live -w -` into tshark.

The stream must be a pcap that tshark reads as it grows: a curl made while it
runs shows up as SYN, SYN/ACK, ACK, and labctl ends quietly when tshark has
had enough and closes the pipe.
"""

import shutil
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT, run_labctl

pytestmark = pytest.mark.docker
LAB = "handshake-lab"


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_live_capture_streams_the_handshake_into_tshark(node_image, instance):
    assert run_labctl("up", LAB, "-i", instance).returncode == 0
    try:
        live = subprocess.Popen([sys.executable, "-m", "labctl.cli", "capture", LAB, "server",
                                 "-i", instance, "--live", "-w", "-"], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        tshark = subprocess.Popen(["tshark", "-r", "-", "-c", "3", "-T", "fields",
                                   "-e", "tcp.flags.str"], stdin=live.stdout,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        live.stdout.close()  # tshark holds the pipe now: labctl sees it close
        time.sleep(1)  # the stream is open before the student's request
        curl = run_labctl("exec", LAB, "client", "-i", instance, "--",
                          "curl", "-s", "--compressed", "http://server/")
        assert curl.returncode == 0 and "Hello World" in curl.stdout
        flags, _ = tshark.communicate(timeout=60)
        live.wait(timeout=30)
        seen = [line.replace("·", "").strip() for line in flags.splitlines()]
        assert seen == ["S", "AS", "A"], flags
        assert live.returncode == 0, live.stderr.read().decode()
    finally:
        for proc in (locals().get("tshark"), locals().get("live")):
            if proc is not None and proc.poll() is None:
                proc.kill()
        run_labctl("down", LAB, "-i", instance)
