"""Loopback stand-ins for mirror tests: the user's app, the Wallarm endpoint, a DNS server and NGINX."""
