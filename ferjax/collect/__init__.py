"""Tables from a sweep's runs: grouped by the swept fields, mean ± std over seeds.

`python -m ferjax.collect runs/<sweep> [--paper=sun|jalal|emotional_dan|feratt]`.
"""
