"""The admin console: clients and users, for admins only."""
