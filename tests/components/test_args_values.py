"""Any value for any arg gives that arg's sentence or plans: never a TypeError, never a traceback
(issue 21). resolve_args is what the component runs first, before any resource exists, so most of
this is checked without the engine; one test goes through `plan --program` end to end."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pulumi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wallarm_mirror import WallarmMirrorArgs
from wallarm_mirror.components.resolve import resolve_args
from wallarm_mirror.config import ConfigError
from wallarm_mirror.config.reference import OUTPUT_ITEM_LISTS, OUTPUT_LISTS, OUTPUT_SCALARS

BASE: dict[str, Any] = {
    "vpc_id": "vpc-0123456789abcdef0",
    "alb_subnet_ids": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
    "mirror_source_cidrs": ["10.0.16.0/20"],
    "token": "placeholder-token-value",
}
ARGS = list(WallarmMirrorArgs.__annotations__)  # the TypedDict's fields, in order
# hub_outputs: a spoke's hub may be a StackReference's outputs (checked when they resolve).
LATE = OUTPUT_SCALARS | OUTPUT_LISTS | OUTPUT_ITEM_LISTS | {"hub_outputs"}
KNOWN_ONLY = [key for key in ARGS if key not in LATE]


def test_the_args_have_both_kinds():
    assert len(ARGS) > 40 and len(KNOWN_ONLY) > 25 and set(ARGS) >= LATE


@pytest.mark.parametrize("key", KNOWN_ONLY)
def test_an_output_where_a_known_value_is_needed_gets_the_args_sentence(key: str):
    with pytest.raises(ConfigError) as refused:
        resolve_args({**BASE, key: pulumi.Output.from_input("x")})
    [problem] = refused.value.problems
    assert problem.startswith(f"WallarmMirrorArgs.{key}: is (or holds) an Output, but its value must be known")


@pytest.mark.parametrize("key", ["mirror_source_cidrs", "tags", "node_egress_cidrs"])
def test_an_output_inside_a_list_or_map_is_named_too(key: str):
    value: Any = {"team": pulumi.Output.from_input("x")} if key == "tags" else [pulumi.Output.from_input("x")]
    with pytest.raises(ConfigError, match=rf"WallarmMirrorArgs\.{key}: is \(or holds\) an Output"):
        resolve_args({**BASE, key: value})


class _Opaque:
    """A value of a type nobody expects."""


ANY_VALUE = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=20),
        st.binary(max_size=8),
        st.just(math.inf),
        st.builds(_Opaque),
        st.text(max_size=10).map(pulumi.Output.from_input),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(max_size=5), inner, max_size=3),
        st.tuples(inner, inner),
        st.frozensets(st.integers(), max_size=3),
    ),
    max_leaves=6,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(ARGS), value=ANY_VALUE)
def test_any_value_for_any_arg_gives_a_sentence_or_is_accepted(key: str, value: Any):
    try:
        resolve_args({**BASE, key: value})
    except ConfigError as refused:
        assert refused.problems, "a refusal says why"
        assert all(p.startswith("WallarmMirrorArgs") for p in refused.problems), refused.problems


@given(value=ANY_VALUE)
@settings(max_examples=50, deadline=None)
def test_args_that_are_not_a_mapping_get_a_sentence(value: Any):
    if isinstance(value, dict):
        return
    with pytest.raises(ConfigError, match=r"WallarmMirrorArgs: expected a mapping of fields"):
        resolve_args(value)


def test_plan_program_with_an_output_size_exits_2_with_the_sentence_and_no_traceback(tmp_path: Path, capsys):
    from wallarm_mirror.__main__ import main

    (tmp_path / "Pulumi.yaml").write_text("name: team-app\nruntime: python\n")
    (tmp_path / "__main__.py").write_text(
        "import pulumi\n"
        "from wallarm_mirror import WallarmMirror\n"
        "args = {'vpc_id': 'vpc-0123456789abcdef0', 'mirror_source_cidrs': ['10.0.16.0/20'],\n"
        "        'alb_subnet_ids': ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],\n"
        "        'token': 'placeholder-token-value', 'min_size': pulumi.Output.from_input(2)}\n"
        "WallarmMirror('waf', args)\n"
    )
    with pytest.raises(SystemExit) as stopped:
        main(["plan", "--program", str(tmp_path)])
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert "WallarmMirrorArgs.min_size: is (or holds) an Output, but its value must be known" in error
    assert "Traceback" not in error and "TypeError" not in error
