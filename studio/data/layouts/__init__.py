"""Stage 2, layouts: detect what the rows are and normalise them to TRL's forms (``Normalised``).

``formats`` (the layouts table and ``detect``), ``kinds`` (data kinds and what each method accepts),
one module per row shape (``messages``, ``sft_rows``, ``pair_rows``, ``tool_rows``, ``ratings``),
``grouped`` (several rows make one example), ``normalise`` (rows -> examples, errors and remarks).
"""
