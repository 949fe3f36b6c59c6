"""libswiftrnn Python bindings (ctypes)."""
