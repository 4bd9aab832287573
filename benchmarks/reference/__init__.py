"""The bare reference: the least a Django + DRF + JWT endpoint can cost (see settings.py)."""
