"""The Wallarm Native Node fed by AWS VPC Traffic Mirroring: what runs on the node (pure, no Pulumi).

- `go_node_config`: the node's config file (``go-node.yaml``), every key from Wallarm's docs.
  Public: `GoNodeConfigSpec`, `render_go_node_config`, `bpf_port_filter`, `DOCUMENTED_KEYS`, and the
  ports the stack wires elsewhere: `VXLAN_UDP_PORT`, `HEALTH_CHECK_PORT`, `HEALTH_CHECK_PATH`,
  `METRICS_PORT`, `MIN_NATIVE_NODE_VERSION`, `MAX_VNI`.
- `boot_script`: the first-boot script that downloads and runs the all-in-one installer.
  Public: `NativeBootSpec`, `render_native_boot_script`, `encode_native_user_data`, `ARCHES`,
  `DEFAULT_INSTALLER_HOST`, `READY_URL`.
"""
