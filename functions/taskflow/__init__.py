"""TaskFlow: the shared task engine behind every function and entrypoint."""
