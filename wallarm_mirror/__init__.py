"""wallarm-mirror: Wallarm nodes analysing mirrored HTTP traffic behind an internal ALB on AWS."""
