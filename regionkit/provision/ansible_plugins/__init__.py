"""Ansible plugins that regionkit's runs load (through the generated ansible.cfg)."""
