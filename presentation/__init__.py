"""What people see: the web chat, handouts, course packs, feedback, and the assembled settings."""
