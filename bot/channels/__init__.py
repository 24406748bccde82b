"""Channel adapters: the only code that imports a chat framework."""
