"""Judges: any chat model grading answers the way the field does (MT-Bench's FastChat prompts, AlpacaEval's
win rates), judge-human agreement on the arena's votes, and AI feedback written as preference pairs.

prompts.py (FastChat's prompts and reference answers, verdict parsing) -> client.py (an endpoint or a
local model, retries, the verdict cache) -> grading.py (single and pairwise, both orders) -> winrate.py,
agreement.py, feedback.py -> job.py (answers, grading, the run folder) -> commands.py (`studio judge`).
"""
