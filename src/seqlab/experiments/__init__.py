"""The experiment layer: run configs, grids, the runner, the results store and the report.

bench, continual, speed and every new module's claims use this one layer.
"""
