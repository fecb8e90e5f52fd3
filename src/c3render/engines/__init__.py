"""Engines: the models that render jobs, behind one protocol (see ``base``)."""
