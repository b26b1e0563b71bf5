"""Known files fetched on demand: the table (``table.py``), fetching into
the caches with verification (``fetch.py``), unpacking tars safely
(``tar.py``)."""
