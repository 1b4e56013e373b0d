"""The browser app: one module per tab, handlers as plain functions, built by app.py."""
