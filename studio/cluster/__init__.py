"""Training beyond one machine: Slurm jobs and job arrays (slurm.py), the terminal commands (commands.py)."""
