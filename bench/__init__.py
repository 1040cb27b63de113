"""`make bench` and `make bench-scale`: Tessera under gunicorn, driven by wrk and bench.flows."""
