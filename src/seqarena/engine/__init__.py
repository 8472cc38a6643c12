"""The engine: one run end to end (run.py), width sizing (sizing.py), the runner that executes a sweep's runs on
local processes or Ray (runner.py), measurements (measurements.py), the main job (job.py) and the comparison on
one task (compare.py). Nothing here is imported by the claims, the report or the statistics."""
