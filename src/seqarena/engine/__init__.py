"""The engine: one run end to end (run.py), the runner that executes a sweep's runs on local processes or Ray
(runner.py) and the leases its runs hold (leases.py), measurements (measurements.py), the main job (job.py) and the
comparison on one task (compare.py); a model's width for a budget is seqarena/sizing.py's. Nothing here is imported
by the claims, the report or the statistics."""
