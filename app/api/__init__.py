"""The resource server: Bob's photos over a JSON API at /api/v1, protected by bearer tokens."""
