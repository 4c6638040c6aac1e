"""`python -m taskflow_dev.local` (what `just up` runs): the whole product on one machine.

See specs/local-runner.md.
"""
