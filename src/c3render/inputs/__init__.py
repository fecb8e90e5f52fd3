"""Inputs: how a job's URL fields become local files the engine can read.

``fetch`` downloads (or reads our own signed links straight from storage) with size and
time caps; ``guard`` is the address guard every outgoing request passes (SSRF);
``sniff`` tells what a file is from its first bytes.
"""
