"""Stand-ins that let tests run the real Native Node boot script on this machine."""
