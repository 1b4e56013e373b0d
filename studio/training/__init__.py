"""Training a run: ``train.train(cfg, run_dir)`` (device plan, model, data, the method's trainer),
``callbacks`` (metrics, progress, status, stop, checkpoint markers), ``trackers`` (report_to).

Nothing is imported here, so ``studio.config`` can read ``training.trackers`` without a circle.
"""
