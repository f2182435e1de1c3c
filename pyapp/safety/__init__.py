"""Defences against untrusted text: delimiting it in prompts, rendering model output inert."""
