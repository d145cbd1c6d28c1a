"""The Elasticsearch search backend (see :mod:`.backend`)."""
from search.backends.elasticsearch.backend import ElasticsearchBackend

__all__ = ["ElasticsearchBackend"]
