"""The identity context's HTTP handlers: they translate requests into service calls and render the result."""
