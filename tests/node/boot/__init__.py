"""Stand-ins and fake services that let tests run the real first-boot script on this machine."""
