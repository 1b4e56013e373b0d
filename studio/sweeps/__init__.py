"""Sweeps: a recipe's sweep section run as an Optuna study whose trials are ordinary runs (spec, study, plan,
metric; cli: `studio sweep`; task: one trial of a Slurm job array)."""
