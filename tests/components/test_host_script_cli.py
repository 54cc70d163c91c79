"""`mirror-config --server host`: the host mirroring script of a stack file, as the SSM document holds it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from wallarm_mirror.__main__ import main
from wallarm_mirror.components.host_mirroring import LEASE_SECONDS
from wallarm_mirror.host_mirror.script import HostScriptSpec, render_host_script

ROOT = Path(__file__).resolve().parents[2]
NLB = "wallarm-mirror-nlb-0123456789abcdef.elb.eu-west-1.amazonaws.com"


def native_stack(tmp_path: Path, **changes: object) -> Path:
    config = yaml.safe_load((ROOT / "Pulumi.native.yaml").read_text())["config"]
    config.update({f"wallarm-mirror:{key}": value for key, value in changes.items()})
    path = tmp_path / "Pulumi.edge.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    return path


@pytest.mark.parametrize("nlb", [None, NLB])
def test_the_printed_script_is_the_stack_s(tmp_path, capsys, nlb):
    path = native_stack(tmp_path, trafficMirrorVni=9000, trafficMirrorPorts=[80, 8080])
    extra = ["--nlb-dns-name", nlb] if nlb else []
    assert main(["mirror-config", "--server", "host", "--config-file", str(path), *extra]) == 0
    expected = HostScriptSpec(
        stack="edge", method="auto", vni=9000, ports=(80, 8080), nlb_dns_name=nlb, lease_seconds=LEASE_SECONDS
    )
    assert capsys.readouterr().out == render_host_script(expected)


def test_host_is_refused_for_an_aws_method_stack(tmp_path, capsys):
    path = native_stack(tmp_path, trafficMirrorMethod="aws")
    with pytest.raises(SystemExit) as exited:
        main(["mirror-config", "--server", "host", "--config-file", str(path)])
    assert exited.value.code == 2
    assert "sets trafficMirrorMethod aws: no host is copied by the script" in capsys.readouterr().err


def test_host_is_refused_for_an_nginx_node_stack(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["mirror-config", "--server", "host", "--stack", "dev"])
    assert exited.value.code == 2
    assert "--server host is for analyzer nativeNode" in capsys.readouterr().err


def test_a_bad_nlb_name_is_one_sentence(tmp_path, capsys):
    path = native_stack(tmp_path)
    with pytest.raises(SystemExit) as exited:
        main(["mirror-config", "--server", "host", "--config-file", str(path), "--nlb-dns-name", "not a name"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot render the host mirroring script: nlb_dns_name 'not a name'")
    assert "Traceback" not in err
