"""Training a run: ``train.train(cfg, run_dir)`` (device plan, model, data, the method's trainer),
``callbacks`` (metrics, progress, status, stop, checkpoint markers), ``eval_curve`` (the eval set and the
best checkpoint). The trackers' names and the eval settings' checks live in studio.config, which
validates a recipe before anything here is imported.
"""
