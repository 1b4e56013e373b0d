"""Stage 1, reading: any source into plain rows (``RawRows``), bad lines reported, never fatal.

``source.read_source`` picks the reader: ``files`` (local .jsonl/.json/.csv/.tsv/.parquet/.txt;
``RawRows`` and ``DataError`` live here), ``hub`` (dataset folders and the Hub through ``datasets``),
``llamafactory`` (a LLaMA-Factory ``data/`` folder), ``arrow`` (large local files kept in Arrow).
"""
