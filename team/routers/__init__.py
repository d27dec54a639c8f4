"""One router per resource; each applies its roles as one dependency."""
