"""Evaluation by job: held-out preference pairs (pairs), reward scoring (reward), RLHF beside DPO
(rlhf_vs_dpo), arena ratings from votes (arena) and benchmarks before and after (bench).

Empty on purpose: methods.rl imports evaluation.reward, and a package that imported its members would
pull the rest of evaluation into the training layer.
"""
