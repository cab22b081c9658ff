"""Examples shipped with flowctl, loaded when core.load_examples is on."""
