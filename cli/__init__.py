"""The command line `bronwijzer …` (cli/main.py), one module per group of commands."""
