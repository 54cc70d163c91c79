"""The Wallarm Native Node fed by AWS VPC Traffic Mirroring: what runs on the node (pure, no Pulumi).

- `go_node_config`: the node's config file (``go-node.yaml``), every key from Wallarm's docs.
- `boot_script`: the first-boot script that downloads and runs the all-in-one installer.
"""
