"""The fault battery's cases, one module per area (see base.py and ../fault_battery.py)."""
