"""`plan` of a changed copy of an example stack file, for the tests of bad input: exit 2, no traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from wallarm_mirror.__main__ import main

ROOT = Path(__file__).resolve().parents[2]


def refused_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], example: str, changes: dict[str, Any], stack: str = "broken"
) -> str:
    """Plan `Pulumi.<example>.yaml` with `changes` (keys without the wallarm-mirror: namespace) as stack
    `stack`; assert it exits 2 with no traceback, and return what it wrote to stderr."""
    config = yaml.safe_load((ROOT / f"Pulumi.{example}.yaml").read_text())["config"]
    config.update({f"wallarm-mirror:{key}": value for key, value in changes.items()})
    path = tmp_path / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    with pytest.raises(SystemExit) as exited:
        main(["plan", "--config-file", str(path), "--project-dir", str(ROOT)])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err
