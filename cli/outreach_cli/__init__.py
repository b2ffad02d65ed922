"""``outreach``: a command-line client for the outreach API (installs with pip on its own: ``pip install ./cli``)."""
