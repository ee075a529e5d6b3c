"""Runs an experiment config: python launch.py --config=configs/sun_attention.py[:args].

A checkout's spelling of the ferjax-train command (ferjax/launch.py has the flags).
"""

from ferjax.launch import main

if __name__ == "__main__":
    main()
