# Stand-in for Wallarm's cloud-init.py. The tests prepend a shebang line when they install it.
# It records how it was started (argv, WALLARM_LABELS, the snippet files, the process chain, its
# environment and every file left in TMPDIR) to $BOOT_TEST_RECORD, then exits with $BOOT_TEST_CLOUD_INIT_EXIT.
# The record is written with marshal and contents base64-encoded with binascii: importing json and
# base64 (and re through them) instead nearly doubled the stand-in's start-up CPU, every run.
# Like the real script it puts the snippet files into the NGINX configuration: on success it writes
# them, indented inside their blocks, to $BOOT_TEST_NGINX_CONF (what the nginx stand-in's -T prints),
# leaving out the flag named by $BOOT_TEST_CLOUD_INIT_DROP, like a script that ignored that file.
import binascii
import marshal
import os
import sys

SNIPPET_FLAGS = ("--global-snippet", "--http-snippet", "--server-snippet")


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


def write_effective_config(snippets):
    drop = os.environ.get("BOOT_TEST_CLOUD_INIT_DROP", "")
    parts = ["# configuration file /etc/nginx/nginx.conf:", "http {"]
    for flag in SNIPPET_FLAGS:
        if flag in snippets and flag != drop:
            text = binascii.a2b_base64(snippets[flag]["content_b64"]).decode("utf-8", "replace")
            parts += ["    " + line for line in text.splitlines()]
    parts.append("}")
    with open(os.environ["BOOT_TEST_NGINX_CONF"], "w") as handle:
        handle.write("\n".join(parts) + "\n")


def main():
    snippets = {}
    for flag, value in zip(sys.argv, sys.argv[1:], strict=False):
        if flag in SNIPPET_FLAGS:
            snippets[flag] = {
                "content_b64": b64(read_bytes(value)),
                "mode": os.stat(value).st_mode & 0o777,
                "dir_mode": os.stat(os.path.dirname(value)).st_mode & 0o777,
            }
    umask = os.umask(0)
    os.umask(umask)
    record = {
        "name": __name__,
        "argv": sys.argv,
        "executable": sys.executable,
        "path0": sys.path[0],
        "labels": os.environ.get("WALLARM_LABELS"),
        "snippets": snippets,
        "umask": umask,
        "processes": process_chain(),
        # What anything cloud-init.py starts would inherit (/proc shows only the exec-time environment).
        "environ": dict(os.environ),
        "tmp_files": files_under(os.environ["TMPDIR"]),
    }
    with open(os.environ["BOOT_TEST_RECORD"], "wb") as handle:
        marshal.dump(record, handle)
    with open(os.environ["BOOT_TEST_EVENTS"], "a") as handle:
        handle.write("cloud-init.py\n")
    status = int(os.environ.get("BOOT_TEST_CLOUD_INIT_EXIT", "0"))
    if status == 0 and os.environ.get("BOOT_TEST_NGINX_CONF"):
        write_effective_config(snippets)
    sys.exit(status)


if __name__ == "__main__":
    main()
