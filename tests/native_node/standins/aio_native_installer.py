# Stand-in for Wallarm's aio-native-<version>.<arch>.sh. The tests prepend a shebang line and serve
# it from a fake installer host. It records how it was started (argv, WALLARM_LABELS, the config
# file, the process chain with each process's environment, every file left in TMPDIR, cwd, umask)
# to $BOOT_TEST_RECORD, sleeps $BOOT_TEST_INSTALLER_SLEEP seconds, then exits with
# $BOOT_TEST_INSTALLER_EXIT.
# The record is written with marshal and contents base64-encoded with binascii: importing json and
# base64 (and re through them) instead nearly doubled the stand-in's start-up CPU, every run.
import binascii
import marshal
import os
import sys
import time


def b64(data):
    """base64.b64encode(data).decode(), without importing base64."""
    return binascii.b2a_base64(data, newline=False).decode()


def read_bytes(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def parent_of(pid):
    stat = read_bytes(f"/proc/{pid}/stat").decode()
    # The command name is in parentheses and may contain spaces: the fields after it are fixed.
    return int(stat.rsplit(")", 1)[1].split()[1]) if stat else 0


def process_chain():
    """This process and its ancestors, as far as /proc lets us see."""
    chain: list[dict[str, object]] = []
    pid = os.getpid()
    while pid > 1 and len(chain) < 8:
        chain.append(
            {
                "pid": pid,
                "cmdline": [
                    arg.decode("utf-8", "surrogateescape")
                    for arg in read_bytes(f"/proc/{pid}/cmdline").split(b"\0")
                    if arg
                ],
                "environ_b64": b64(read_bytes(f"/proc/{pid}/environ")),
            }
        )
        pid = parent_of(pid)
    return chain


def files_under(root):
    found = {}
    for directory, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(directory, name)
            found[path] = b64(read_bytes(path))
    return found


def main():
    config = [arg.split("=", 1)[1] for arg in sys.argv if arg.startswith("--go-node-config=")]
    umask = os.umask(0)
    os.umask(umask)
    record = {
        "argv": sys.argv,
        "labels": os.environ.get("WALLARM_LABELS"),
        "config": read_bytes(config[0]).decode() if config else None,
        "cwd": os.getcwd(),
        "umask": umask,
        "processes": process_chain(),
        "environ": dict(os.environ),
        "tmp_files": files_under(os.environ["TMPDIR"]),
    }
    with open(os.environ["BOOT_TEST_RECORD"], "wb") as handle:
        marshal.dump(record, handle)
    with open(os.environ["BOOT_TEST_EVENTS"], "a") as handle:
        handle.write("installer\n")
    time.sleep(float(os.environ.get("BOOT_TEST_INSTALLER_SLEEP", "0")))
    sys.exit(int(os.environ.get("BOOT_TEST_INSTALLER_EXIT", "0")))


if __name__ == "__main__":
    main()
