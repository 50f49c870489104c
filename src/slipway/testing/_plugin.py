"""pytest plugin registered by slipway's entry point; it adds nothing unless a suite asks for it."""
