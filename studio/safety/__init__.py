"""What keeps the user's files and machine safe: atomic private writes, owner markers, consent to run code."""
