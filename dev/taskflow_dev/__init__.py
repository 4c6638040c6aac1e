"""TaskFlow's development plumbing, kept out of the product package so no image ships it:
the local event router (`python -m taskflow_dev.router`), the local runner behind `just up`
(`python -m taskflow_dev.local`) and the scripted OpenAI-compatible model of the chat tests and
benchmarks. It may import the product (`taskflow`); the product never imports it.

Importable from the repository's virtual environment: scripts/bootstrap.sh puts dev/ on its
path (a .pth file), as the editable install puts functions/ there.
"""
