"""Provisioning: secrets, artifacts, the Ansible run (inventory, run spec, runner), deploy, preflight, status and the
sandbox servers.
"""
