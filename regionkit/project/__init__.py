"""A region project: its folder and files, the region profile, units, Kemendagri codes, checks, app choice and the
deployment plan of every chosen app.
"""
