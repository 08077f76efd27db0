"""A simulated IBKR Client Portal Gateway over real HTTPS on loopback."""
