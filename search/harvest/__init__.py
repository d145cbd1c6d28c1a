"""Harvesters: one module per kind of source, and the pipeline that runs them.

``run_harvest(source, location, fmt="auto", mapping_path=None, progress=False, now=None)``
applies a full snapshot of a source (portal JSON/CSV/XLSX export or DCAT data.json,
local or over http) to the catalog store and the search index.
"""
from search.harvest.pipeline import HarvestSummary, run_harvest
from search.harvest.records import HarvestError

__all__ = ["HarvestError", "HarvestSummary", "run_harvest"]
