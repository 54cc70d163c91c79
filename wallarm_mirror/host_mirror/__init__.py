"""Host mirroring (`trafficMirrorMethod` host, and auto for the instance types AWS cannot mirror).

`script.render_host_script(HostScriptSpec(...))` gives the POSIX sh script that copies a web host's
application traffic to the stack's NLB with Linux tc and a vxlan device. Pure and cheap to import:
the standard library and the enrolment module's tables, no Pulumi.
"""

from __future__ import annotations

from .script import HostScriptSpec, render_host_script

__all__ = ["HostScriptSpec", "render_host_script"]
