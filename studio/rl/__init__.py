"""What RL with verifiable rewards needs besides its trainer (studio/methods/rl.py): the reward functions a
recipe lists (rewards.py) and the samples file that shows what was sampled and how it scored (samples.py).

Empty on purpose: the RL method module imports its members, and they import nothing else of the studio's.
"""
