"""Operator tasks on a deployed stack (AWS credentials and the stack's outputs), not on the local one."""
