"""TaskFlow's benchmarks: `python -m bench [name ...]` (what `just bench` runs).

Each benchmark is one module with `run(context) -> Result`; specs/benchmarks.md describes what
each one measures, how, and against which goal. Everything runs on loopback, bounded in time,
and never inside `just test`.
"""
