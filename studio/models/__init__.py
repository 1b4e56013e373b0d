"""Models and the machine they train on: the catalog (catalog), resolving and loading weights (loading),
the device and precision plan (hardware), the memory estimate (memory) and the Hub's model search
(hub_search). Nothing is imported here, so `import studio.models.catalog` stays light."""
