"""AWS VPC Traffic Mirroring as the feed of a Wallarm Native Node (the `nativeNode` analyser).

Public parts, all free of Pulumi and cheap to import:

- `enrolment` — the source of the enrolment Lambda (standard library and boto3 only; boto3 loads on
  the first invocation, not on import). It keeps one traffic mirror session on the primary ENI of
  every running instance that carries the source tags. `ENROLMENT_SOURCE` is its path, for the
  function's code archive; its environment variable names are the `ENV_*` constants in it.
- `policy` — the least-privilege IAM policy document that Lambda needs, as a pure function of
  plain strings (call it inside an `Output.apply`).

The Pulumi components that create the target, filter, static sessions and the Lambda itself live
beside these modules and import them, never the other way round.
"""

from __future__ import annotations

from pathlib import Path

ENROLMENT_SOURCE = Path(__file__).resolve().with_name("enrolment.py")

__all__ = ["ENROLMENT_SOURCE"]
