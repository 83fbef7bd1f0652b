"""The inventory service the target calls for stock levels (port 8001)."""
