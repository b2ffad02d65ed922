"""One Powertools Router per resource; resolver.py includes them all."""
