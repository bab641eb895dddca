"""What a hostile student does as root in their own node, for the tests of tests/hostile/.

Files are written through the runtime, as `labctl exec` would: the student needs
nothing labctl does not give every student.
"""

from __future__ import annotations

import base64
import shlex

# A module that shadows the standard library's subprocess for any `python3` started in
# /root (its cwd is sys.path[0]): it runs commands for real, then adds a listening
# socket on 8080 to what ss says.
FAKE_SUBPROCESS = '''
import importlib.util, sys, sysconfig
_spec = importlib.util.spec_from_file_location(
    "_real_subprocess", sysconfig.get_paths()["stdlib"] + "/subprocess.py")
_real = sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_real)

def run(argv, *args, **kwargs):
    done = _real.run(argv, *args, **kwargs)
    if isinstance(argv, list) and str(argv[-1]).endswith("ss --numeric --listening --tcp"):
        done.stdout += b"LISTEN 0 128 0.0.0.0:8080 0.0.0.0:*\\n"
    return done

def __getattr__(name):
    return getattr(_real, name)
'''

# The same for socket: every connect() "succeeds".
FAKE_SOCKET = '''
import importlib.util, sys, sysconfig
_spec = importlib.util.spec_from_file_location(
    "_real_socket", sysconfig.get_paths()["stdlib"] + "/socket.py")
_real = sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_real)

class socket(_real.socket):
    def connect(self, address):
        return None

def __getattr__(name):
    return getattr(_real, name)
'''

# A user-site hook: every `python3` run as root in the node imports it at start.
USERCUSTOMIZE = 'import sys; sys.stderr.write("usercustomize ran\\n")\n'


def write(runtime, container: str, path: str, text: str) -> None:
    data = base64.b64encode(text.encode()).decode()
    where = shlex.quote(path)
    code, _, err = runtime.run(container, ["sh", "-c", f'mkdir -p "$(dirname {where})" && '
                                                       f"echo {data} | base64 -d > {where}"])
    assert code == 0, err


def user_site(runtime, container: str) -> str:
    code, out, err = runtime.run(container, ["python3", "-c",
                                             "import site; print(site.getusersitepackages())"])
    assert code == 0, err
    return out.decode().strip()
