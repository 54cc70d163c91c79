"""Pulumi entry point: everything lives in the wallarm_mirror package.

Two roles: the program of this project (Pulumi.yaml), and the plugin of the component package
(PulumiPlugin.yaml) that `pulumi package add` and a consumer's deployments start.
"""

from wallarm_mirror.provider import running_as_plugin

if running_as_plugin():
    from wallarm_mirror.provider import serve

    serve()
else:
    from wallarm_mirror.program import main

    main()
