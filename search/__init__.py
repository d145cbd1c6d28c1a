"""Catalog side: datasets, harvesters, the catalog store, search backends and the scene query model."""
