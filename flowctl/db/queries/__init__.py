"""Named query functions, one module per aggregate; each takes `session` first and never commits."""
