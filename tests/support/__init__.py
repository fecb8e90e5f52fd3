"""Helpers shared by the tests: real servers started on free ports."""
