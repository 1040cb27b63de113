"""Domain services: plain functions that own their queries and their transaction.

Services never touch ``flask.request``, the session or templates; they may read
``settings()`` (app.settings) and use ``db``.
"""
