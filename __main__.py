"""Pulumi entry point: everything lives in the wallarm_mirror package."""

from wallarm_mirror.program import main

main()
