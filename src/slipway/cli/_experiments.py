"""Placeholder: this command group is being built in this session."""
