"""Stage 3, preparing: examples as the trainer and the previews take them (``PreparedData``).

``training_data`` (the one call training makes), ``templates`` and ``chat_inputs`` (what chat
templates are given), ``preview`` (rendering and trained-token marks), ``trainer_ready`` (rows TRL
cannot tokenize alone), ``token_cache`` (tokenized rows on disk), ``progress`` (map progress),
``arrow_normalise`` (a large file normalised as Arrow maps).
"""
