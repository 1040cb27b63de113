"""The authorization server: authlib's framework with Tessera's storage hooks and policies.

``server.build_authorization_server`` assembles it; ``endpoints`` (JSON, for clients) and
``interaction`` (HTML, for people) are the blueprints in front of it.
"""
